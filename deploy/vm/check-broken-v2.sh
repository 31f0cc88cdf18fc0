#!/usr/bin/env bash
# check-broken-v2.sh — show that the VM run catches a broken cgroup v2 path.
#
# Copies the tree to a temporary directory (the original is never modified), breaks the
# cpu.max value the sandbox code writes on cgroup v2 (the quota becomes 10× too large,
# still a value the kernel accepts), runs deploy/vm/run-tests.sh on the copy and asserts
# that it FAILS with failing tests (not a build or boot error). First it runs the same
# packages on an unmodified copy and asserts that they PASS, so a failure is
# attributable to the patch. Exit 0 = the check behaves as it should.
#
# Settings: FAASLAB_VM_PKGS (default ./sandbox/...), CHECK_BASELINE=0 skips the unmodified
# run, CHECK_KEEP=1 keeps the copies; every FAASLAB_VM_* setting of run-tests.sh applies.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${FAASLAB_VM_REPO:-$(cd "$HERE/../.." && pwd)}
export FAASLAB_VM_PKGS=${FAASLAB_VM_PKGS:-./sandbox/...}
BASELINE=${CHECK_BASELINE:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/faaslab-broken-v2.XXXXXX")
[ "${CHECK_KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

log() { echo "check-broken-v2: $*" >&2; }
fail() {
	log "FAILED: $*"
	exit 1
}

# copy_tree DST copies the working tree (uncommitted changes included, .git and bin/ not).
copy_tree() {
	mkdir -p "$1"
	tar -C "$SRC" --exclude=./.git --exclude=./bin -cf - . | tar -C "$1" -xf -
}

# break_cpu_max DIR patches the v2 cpu.max write under DIR/sandbox and prints the files it
# changed. Two shapes are recognised, found at run time:
#   cgroup2.NewCPUMax(QUOTA, PERIOD)   -> NewCPUMax(faaslabBrokenQuota(QUOTA), PERIOD)
#   a file writing "cpu.max" with fmt "%d %d"  -> "%d0 %d" (quota × 10)
break_cpu_max() {
	local dir=$1 f changed=()
	while IFS= read -r f; do
		if grep -q 'NewCPUMax(' "$f"; then
			perl -0pi -e 's/NewCPUMax\(\s*([^,()]+(?:\([^()]*\))?[^,()]*),/NewCPUMax(faaslabBrokenQuota($1),/g' "$f"
			grep -q 'NewCPUMax(faaslabBrokenQuota(' "$f" || continue
			printf '\n// faaslabBrokenQuota is check-broken-v2.sh'"'"'s deliberate bug: 10x the CPU quota.\nfunc faaslabBrokenQuota(q *int64) *int64 {\n\tif q == nil {\n\t\treturn nil\n\t}\n\tv := *q * 10\n\treturn &v\n}\n' >>"$f"
			changed+=("$f")
		elif grep -q '"cpu\.max"' "$f" && grep -q '"%d %d"' "$f"; then
			sed -i 's/"%d %d"/"%d0 %d"/g' "$f"
			changed+=("$f")
		fi
	done < <(find "$dir/sandbox" -name '*.go' ! -name '*_test.go' ! -path '*/docker/*' ! -path '*/testdata/*' | sort)
	[ ${#changed[@]} -gt 0 ] || return 1
	printf '%s\n' "${changed[@]}"
}

run_vm() { # tree outdir
	FAASLAB_VM_REPO=$1 FAASLAB_VM_OUT=$2 bash "$1/deploy/vm/run-tests.sh"
}

main() {
	[ -f "$SRC/deploy/vm/run-tests.sh" ] || fail "$SRC has no deploy/vm/run-tests.sh"
	if [ "$BASELINE" = 1 ]; then
		log "baseline: unmodified copy, packages $FAASLAB_VM_PKGS"
		copy_tree "$WORK/good"
		run_vm "$WORK/good" "$WORK/good-out" || fail "the unmodified tree does not pass in the VM: fix that first (log $WORK/good-out/console.log)"
		log "baseline passed"
	fi
	copy_tree "$WORK/broken"
	local files
	files=$(break_cpu_max "$WORK/broken") ||
		fail "found no cgroup v2 cpu.max write (NewCPUMax or a \"cpu.max\" write with \"%d %d\") under sandbox/"
	log "broke the cpu.max quota in: ${files//$WORK\/broken\//}"
	(cd "$WORK/broken" && diff -ru "$SRC/sandbox" sandbox >&2) || true
	(cd "$WORK/broken" && CGO_ENABLED=0 go build ./sandbox/...) || fail "the patched tree does not compile; the patch needs updating for the current code"

	local rc=0
	run_vm "$WORK/broken" "$WORK/broken-out" || rc=$?
	local logf=$WORK/broken-out/console.log
	[ "$rc" != 0 ] || fail "run-tests.sh PASSED with a broken cpu.max: the v2 quota is not checked in the VM"
	grep -q '=== FAASLAB-VM ALL-DONE' "$logf" || fail "the VM run did not finish; a failure for another reason proves nothing (log $logf)"
	grep -q -- '--- FAIL:' "$logf" || fail "run-tests.sh failed without a failing test (build or boot error?) (log $logf)"
	log "as expected, the broken tree FAILS in the VM (run-tests.sh exit $rc); failing tests:"
	tr -d '\r' <"$logf" | grep -E -- '--- FAIL:|quota' >&2 || true
	log "OK"
}

main "$@"
