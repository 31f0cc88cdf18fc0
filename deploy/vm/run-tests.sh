#!/usr/bin/env bash
# run-tests.sh — run faaslab's privileged Go tests inside a QEMU VM that boots Debian's
# 6.1 cloud kernel with cgroup v2 (this project's hosts are cgroup v1 on a newer kernel).
#
#   1. fetch linux-image-6.1.0-*-cloud-amd64 once into a cache (apt-get download, dpkg -x);
#   2. build static test binaries (go test -c) and the helper programs they run;
#   3. pack them with busybox, deploy/vm/init and the needed kernel modules into an initramfs;
#   4. boot it with no network device at all, under KVM when /dev/kvm is accessible and a
#      short probe boot of the kernel reaches the console, else under TCG; a KVM run that
#      reports a KVM internal error or whose console stays silent is retried under TCG;
#   5. turn the console log into an exit code, naming failed tests and unfinished packages.
#
# Inside the VM: cgroup2 at /sys/fs/cgroup (cpu memory pids io enabled in the root's
# subtree_control), loopback up, /run/netns, a tmpfs root (pivot_root works), no go
# toolchain. The environment has FAASLAB_VM=1 and FAASLAB_PREBUILT_DIR=/opt/faaslab/bin
# (also on PATH), which holds static builds of cmd/faaslab, cmd/faaslab-runtime, every
# main package under the tested packages and every main package in a testdata/NAME
# directory anywhere in the tree, each named after its directory (testprog, awslambdago).
# FAASLAB_BIN and FAASLAB_RUNTIME_BIN point into it. Tests that would `go build` a helper
# use $FAASLAB_PREBUILT_DIR/NAME when set, and skip when neither exists. Each test binary
# runs in /faaslab/src/PKG, holding a copy of the package's testdata/, as under go test.
# When deploy/ec2 is tested, `make release`'s tarball is in /faaslab/release and
# FAASLAB_RELEASE_TARBALL names it (user-data.sh installs from it in the VM).
#
# Settings (environment):
#   FAASLAB_VM_PKGS        Go package patterns        (./sandbox/... ./netshape/... ./scheduler/... ./runtime/... ./cmd/... ./deploy/ec2)
#   FAASLAB_VM_RUN         -test.run regexp           (all tests)
#   FAASLAB_VM_SKIP        -test.skip regexp          (none)
#   FAASLAB_VM_SHORT       1 = pass -test.short        (1)
#   FAASLAB_VM_TEST_TIMEOUT  -test.timeout per binary (3m)
#   FAASLAB_VM_TIMEOUT     wall-clock seconds for the VM (600)
#   FAASLAB_VM_SILENCE     seconds without guest output before the VM counts as stuck (90)
#   FAASLAB_VM_KVM_PROBE_SECS  bound of the KVM probe boot (20)
#   FAASLAB_VM_QEMU        the qemu binary            (qemu-system-x86_64)
#   FAASLAB_VM_KVM_DEV     the KVM device             (/dev/kvm; missing or inaccessible = TCG)
#   FAASLAB_VM_CACHE       kernel cache directory     (/var/cache/faaslab-vm)
#   FAASLAB_VM_KERNEL_PKG  kernel package             (newest cached, else newest 6.1 cloud in apt)
#   FAASLAB_VM_MODULES     kernel modules to load     (see DEFAULT_MODULES below)
#   FAASLAB_VM_EXTRA_MODULES  more modules, e.g. br_netfilter
#   FAASLAB_VM_HOST_PROGS  host programs copied in with their libraries (iperf3 iptables bash install stat)
#   FAASLAB_VM_EXTRA_TESTS prebuilt test binaries to run too, "path[=pkgname]" space-separated
#   FAASLAB_VM_MEM / FAASLAB_VM_SMP   guest memory MiB / vCPUs (2048 / 2)
#   FAASLAB_VM_OUT         output directory (a new /tmp/faaslab-vm.XXXXXX); keeps console.log
#   FAASLAB_VM_KEEP        1 = keep the staging tree and initramfs in the output directory
#   FAASLAB_VM_QUIET       1 = do not stream the VM console to stderr
#   FAASLAB_VM_PRE         shell commands the VM runs before the tests (debugging aid)
#   FAASLAB_VM_REPO        the tree to test (the one holding this script)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${FAASLAB_VM_REPO:-$(cd "$HERE/../.." && pwd)}
CACHE=${FAASLAB_VM_CACHE:-/var/cache/faaslab-vm}
PKGS=${FAASLAB_VM_PKGS:-./sandbox/... ./netshape/... ./scheduler/... ./runtime/... ./cmd/... ./deploy/ec2}
RUN=${FAASLAB_VM_RUN:-}
SKIP=${FAASLAB_VM_SKIP:-}
SHORT=${FAASLAB_VM_SHORT:-1}
TEST_TIMEOUT=${FAASLAB_VM_TEST_TIMEOUT:-3m}
WALL_SECS=${FAASLAB_VM_TIMEOUT:-600}
SILENCE_SECS=${FAASLAB_VM_SILENCE:-90}
PROBE_SECS=${FAASLAB_VM_KVM_PROBE_SECS:-20}
QEMU=${FAASLAB_VM_QEMU:-qemu-system-x86_64}
KVM_DEV=${FAASLAB_VM_KVM_DEV:-/dev/kvm}
MEM_MIB=${FAASLAB_VM_MEM:-2048}
SMP=${FAASLAB_VM_SMP:-2}
KPKG=${FAASLAB_VM_KERNEL_PKG:-}
HOST_PROGS=${FAASLAB_VM_HOST_PROGS-iperf3 iptables bash install stat}
EXTRA_TESTS=${FAASLAB_VM_EXTRA_TESTS:-}
QUIET=${FAASLAB_VM_QUIET:-0}
KEEP=${FAASLAB_VM_KEEP:-0}
GO=${GO:-go}
export PATH=/usr/local/go/bin:$PATH

# Module name plus insmod parameters; dependencies are added from each module's modinfo.
# ifb numifbs=0: no stray ifb0/ifb1, netshape creates its own.
DEFAULT_MODULES="llc stp bridge veth sch_htb sch_tbf sch_ingress cls_u32 act_mirred
ifb:numifbs=0 xfrm_user sch_netem sch_fq sch_prio sch_sfq sch_hfsc cls_cgroup cls_fw cls_basic
cls_matchall act_gact overlay"
IPTABLES_MODULES="nf_tables nft_compat nft_chain_nat nft_ct nft_masq x_tables xt_comment
xt_tcpudp xt_conntrack xt_MASQUERADE xt_mark xt_addrtype nf_conntrack nf_nat"
MODULES=${FAASLAB_VM_MODULES:-$DEFAULT_MODULES}
MODULES="$MODULES ${FAASLAB_VM_EXTRA_MODULES:-}"

log() { echo "vm: [${SECONDS}s] $*" >&2; }
fail() {
	echo "vm: error: $*" >&2
	exit 2
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || fail "$c not found: install it (make deps installs qemu-system-x86 busybox-static cpio)"
	done
}

OUT=${FAASLAB_VM_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/faaslab-vm.XXXXXX")}
mkdir -p "$OUT"
STAGE=$OUT/root
LOG=$OUT/console.log
BEAT=$OUT/heartbeat.log
BUILD_FAILED=() # packages whose test binary did not build

# The qemu and console tail running now: whatever ends this script (an error, Ctrl-C, a CI
# timeout's SIGTERM) stops them too. qemu leads its own process group (setsid), so a
# signal to ours never reaches it.
QEMU_PID=""
TAIL_PID=""

cleanup() {
	[ -z "$QEMU_PID" ] || stop_qemu "$QEMU_PID"
	[ -z "$TAIL_PID" ] || kill "$TAIL_PID" 2>/dev/null || true
	[ "$KEEP" = 1 ] || rm -rf "$STAGE" "$OUT/initrd.img"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- kernel

# newest_apt_kernel prints the newest linux-image-6.1.0-N-cloud-amd64 apt knows.
newest_apt_kernel() {
	{ apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null || true; } |
		awk '{print $1}' | sort -V | tail -n 1
}

# newest_cached_kernel prints the newest fully unpacked kernel in the cache.
newest_cached_kernel() {
	local d
	for d in "$CACHE"/linux-image-6.1.0-*-cloud-amd64; do
		if [ -f "$d/.complete" ]; then basename "$d"; fi
	done | sort -V | tail -n 1
}

download_kernel() {
	local pkg=$1 tmp
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	log "downloading $pkg into $CACHE"
	# apt-get download leaves a harmless warning when _apt cannot write into tmp.
	if ! (cd "$tmp" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 &&
		ls "$tmp"/*.deb >/dev/null 2>&1); then
		log "download failed: apt-get update, then retrying"
		apt-get update -qq >&2 || true
		(cd "$tmp" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
		ls "$tmp"/*.deb >/dev/null 2>&1 || { rm -rf "$tmp"; fail "apt-get download $pkg failed"; }
	fi
	dpkg -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; fail "dpkg -x of $pkg failed"; }
	local ver=${pkg#linux-image-}
	rm -rf "${CACHE:?}/$pkg"
	mkdir -p "$CACHE/$pkg"
	mv "$tmp/x/boot/vmlinuz-$ver" "$CACHE/$pkg/vmlinuz"
	mv "$tmp/x/boot/config-$ver" "$CACHE/$pkg/config" 2>/dev/null || true
	mv "$tmp/x/lib/modules/$ver" "$CACHE/$pkg/modules"
	echo "$ver" >"$CACHE/$pkg/version"
	touch "$CACHE/$pkg/.complete"
	rm -rf "$tmp"
}

# fetch_kernel sets KDIR (vmlinuz, modules/, version) and KVER.
fetch_kernel() {
	mkdir -p "$CACHE" || fail "cannot create the kernel cache $CACHE (set FAASLAB_VM_CACHE)"
	exec 9>"$CACHE/.lock"
	command -v flock >/dev/null && flock 9
	if [ -z "$KPKG" ]; then
		KPKG=$(newest_cached_kernel)
	fi
	if [ -z "$KPKG" ]; then
		KPKG=$(newest_apt_kernel)
		if [ -z "$KPKG" ]; then
			log "no 6.1 cloud kernel in apt's lists: apt-get update"
			apt-get update -qq >&2 || true
			KPKG=$(newest_apt_kernel)
		fi
		[ -n "$KPKG" ] || fail "apt knows no linux-image-6.1.0-*-cloud-amd64 (needs Debian 12 bookworm sources; or set FAASLAB_VM_KERNEL_PKG)"
	fi
	[ -f "$CACHE/$KPKG/.complete" ] || download_kernel "$KPKG"
	exec 9>&-
	KDIR=$CACHE/$KPKG
	KVER=$(cat "$KDIR/version")
	log "kernel $KVER ($KDIR)"
}

# ---------------------------------------------------------------- Go builds

# list_pkgs prints "importpath dir ntestfiles name" for the patterns whose directory exists.
list_pkgs() {
	local pats=() p
	for p in $PKGS; do
		if [ -d "$REPO/${p%/...}" ]; then pats+=("$p"); else log "skipping $p: no such directory"; fi
	done
	[ ${#pats[@]} -gt 0 ] || return 0
	(cd "$REPO" && "$GO" list -e -f '{{.ImportPath}} {{.Dir}} {{len .TestGoFiles}}{{len .XTestGoFiles}} {{.Name}}' "${pats[@]}")
}

build_static() { # out pkgdir-or-importpath
	(cd "$REPO" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags="-s -w" -o "$1" "$2")
}

# build_one KIND REL builds one package into the stage; a failure leaves a
# file in $STAGE/.failed (it runs as a background job).
build_one() {
	local kind=$1 rel=$2 out
	if [ "$kind" = main ]; then
		out=$STAGE/opt/faaslab/bin/$(basename "$rel")
		log "go build $rel (static)"
		build_static "$out" "./$rel" || echo "$rel (main package)" >"$STAGE/.failed/main_${rel//\//_}"
		return 0
	fi
	out=$STAGE/faaslab/tests/${rel//\//_}.test
	log "go test -c $rel"
	(cd "$REPO" && CGO_ENABLED=0 "$GO" test -c -ldflags="-s -w" -o "$out" "./$rel") || echo "$rel" >"$STAGE/.failed/test_${rel//\//_}"
}

# build_tests builds, nproc at a time, one static test binary per package with tests
# and one static program per main package, then writes tests.list in package order.
build_tests() {
	local mod ip dir n name rel bin jobs=() j f
	local par
	par=$(nproc 2>/dev/null || echo 2)
	mod=$(cd "$REPO" && "$GO" list -m)
	mkdir -p "$STAGE/faaslab/tests" "$STAGE/faaslab/src" "$STAGE/opt/faaslab/bin" "$STAGE/.failed"
	: >"$STAGE/faaslab/tests.list"
	while read -r ip dir n name; do
		[ -n "$ip" ] || continue
		rel=${ip#"$mod"/}
		[ "$name" != main ] || jobs+=("main $rel")
		if [ "$n" != 00 ]; then
			jobs+=("test $rel")
			echo "$rel ${rel//\//_}.test" >>"$STAGE/faaslab/tests.list"
			mkdir -p "$STAGE/faaslab/src/$rel"
			if [ -d "$dir/testdata" ]; then cp -a "$dir/testdata" "$STAGE/faaslab/src/$rel/"; fi
		fi
	done < <(list_pkgs)
	for j in "${jobs[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do wait -n || true; done
		# shellcheck disable=SC2086 # "kind rel"
		build_one $j &
	done
	wait
	for f in "$STAGE"/.failed/*; do
		[ -e "$f" ] || continue
		BUILD_FAILED+=("$(cat "$f")")
	done
	rm -rf "$STAGE/.failed"
	# Packages that did not build stay out of the VM (they are reported as BUILD FAILED).
	while read -r rel f; do
		[ -f "$STAGE/faaslab/tests/$f" ] && echo "$rel $f"
	done <"$STAGE/faaslab/tests.list" >"$STAGE/faaslab/tests.list.ok" || true
	mv "$STAGE/faaslab/tests.list.ok" "$STAGE/faaslab/tests.list"
	local spec path pkg
	for spec in $EXTRA_TESTS; do
		path=${spec%%=*}
		pkg=${spec#*=}
		[ "$pkg" != "$spec" ] || pkg=extra/$(basename "$path" .test)
		[ -x "$path" ] || fail "FAASLAB_VM_EXTRA_TESTS: $path is not an executable"
		bin=${pkg//\//_}.test
		cp "$path" "$STAGE/faaslab/tests/$bin"
		mkdir -p "$STAGE/faaslab/src/$pkg"
		echo "$pkg $bin" >>"$STAGE/faaslab/tests.list"
	done
	[ -s "$STAGE/faaslab/tests.list" ] || [ ${#BUILD_FAILED[@]} -gt 0 ] || fail "no test binaries: no package of '$PKGS' has tests"
}

# build_testdata_progs builds every main package in a testdata/NAME directory of the tree
# (./... skips them), so tests can take $FAASLAB_PREBUILT_DIR/NAME instead of running
# go build. A failure is only a warning: the tests needing it fail or skip on their own.
build_testdata_progs() {
	local d
	while IFS= read -r d; do
		grep -qs '^package main' "$d"/*.go || continue
		[ ! -e "$STAGE/opt/faaslab/bin/$(basename "$d")" ] || {
			log "warning: two testdata programs named $(basename "$d"); keeping the first"
			continue
		}
		log "go build ${d#"$REPO"/} (testdata program)"
		build_static "$STAGE/opt/faaslab/bin/$(basename "$d")" "./${d#"$REPO"/}" ||
			log "warning: building $d failed; tests needing it will not find it"
	done < <(find "$REPO" -path "$REPO/.git" -prune -o -type d -path '*/testdata/*' ! -path '*/testdata/*/*' -print | sort)
}

build_programs() {
	local c
	for c in faaslab faaslab-runtime; do
		if [ ! -d "$REPO/cmd/$c" ] || [ -e "$STAGE/opt/faaslab/bin/$c" ]; then continue; fi
		log "go build cmd/$c (static)"
		build_static "$STAGE/opt/faaslab/bin/$c" "./cmd/$c" || BUILD_FAILED+=("cmd/$c")
	done
	# The real sandbox contract program, when the suite has one, even if not under PKGS.
	if [ -d "$REPO/sandbox/sandboxtest/testprog" ] && [ ! -e "$STAGE/opt/faaslab/bin/testprog" ]; then
		build_static "$STAGE/opt/faaslab/bin/testprog" ./sandbox/sandboxtest/testprog || BUILD_FAILED+=("sandbox/sandboxtest/testprog")
	fi
	mkdir -p "$STAGE/usr/local/bin"
	for c in "$STAGE"/opt/faaslab/bin/*; do
		[ -e "$c" ] && ln -sf "/opt/faaslab/bin/$(basename "$c")" "$STAGE/usr/local/bin/$(basename "$c")"
	done
	return 0
}

# stage_release puts `make release`'s tarball (and SHA256SUMS) into /faaslab/release when
# deploy/ec2 is among the tested packages: its VM test installs faaslab from it with
# user-data.sh, as on EC2. The binaries are the static builds above (same flags: cached).
stage_release() {
	grep -q '^deploy/ec2 ' "$STAGE/faaslab/tests.list" || return 0
	local dist=$OUT/dist
	log "make release (for deploy/ec2's user-data.sh test)"
	if ! PATH=$(dirname "$(command -v "$GO")"):$PATH make -C "$REPO" --no-print-directory release \
		DIST="$dist" VERSION=vm GO="$GO" >"$OUT/release.log" 2>&1; then
		log "make release failed: $(tail -n 5 "$OUT/release.log")"
		BUILD_FAILED+=("make release (deploy/ec2)")
		return 0
	fi
	mkdir -p "$STAGE/faaslab/release"
	cp "$dist"/faaslab-*-linux-amd64.tar.gz "$dist/SHA256SUMS" "$STAGE/faaslab/release/"
	rm -rf "$dist"
}

# ---------------------------------------------------------------- rootfs

make_rootfs() {
	local d a
	for d in usr/bin usr/sbin usr/local/bin usr/lib usr/lib64 etc root home run tmp \
		proc sys dev var/tmp var/log var/lib faaslab/modules; do
		mkdir -p "$STAGE/$d"
	done
	# merged /usr, as Debian 12 and Ubuntu: host paths of libraries and plugins
	# (e.g. iptables' /usr/lib/x86_64-linux-gnu/xtables) stay valid whichever spelling ldd uses.
	for d in bin sbin lib lib64; do ln -sfn "usr/$d" "$STAGE/$d"; done
	ln -sfn ../run "$STAGE/var/run"
	chmod 1777 "$STAGE/tmp" "$STAGE/var/tmp"
	chmod 0700 "$STAGE/root"
	local bb
	bb=$(command -v busybox) || fail "busybox not found (apt-get install busybox-static)"
	if ldd "$bb" >/dev/null 2>&1; then fail "$bb is dynamically linked: install busybox-static"; fi
	cp "$bb" "$STAGE/bin/busybox"
	for a in $("$bb" --list-full); do
		[ -e "$STAGE/$a" ] || [ -L "$STAGE/$a" ] || ln -s /bin/busybox "$STAGE/$a"
	done
	cat >"$STAGE/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
	EOF
	cat >"$STAGE/etc/group" <<-'EOF'
		root:x:0:
		nogroup:x:65534:
	EOF
	echo 'root:*:19000:0:99999:7:::' >"$STAGE/etc/shadow"
	chmod 0640 "$STAGE/etc/shadow"
	printf '127.0.0.1\tlocalhost faaslab-vm\n::1\tlocalhost ip6-localhost\n' >"$STAGE/etc/hosts"
	echo faaslab-vm >"$STAGE/etc/hostname"
	echo 'hosts: files' >"$STAGE/etc/nsswitch.conf"
	: >"$STAGE/etc/resolv.conf"
	# The kernel opens /dev/console before running /init; without the node /init mounts
	# devtmpfs first (mknod needs root).
	mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$STAGE/dev/null" c 1 3 2>/dev/null || true
	install -m 0755 "$HERE/init" "$STAGE/init"
	printf '%s\n' "${FAASLAB_VM_PRE:-}" >"$STAGE/faaslab/pre.sh"
	cat >"$STAGE/faaslab/config" <<-EOF
		FAASLAB_VM_TEST_TIMEOUT='$TEST_TIMEOUT'
		FAASLAB_VM_SHORT='$SHORT'
		FAASLAB_VM_RUN='${RUN//\'/}'
		FAASLAB_VM_SKIP='${SKIP//\'/}'
	EOF
}

# copy_with_libs copies host file SRC to the same path in the stage, plus the shared
# libraries and dynamic loader ldd names for it.
copy_with_libs() {
	local src=$1 lib
	mkdir -p "$STAGE$(dirname "$src")"
	if [ ! -e "$STAGE$src" ] || [ -L "$STAGE$src" ]; then
		rm -f "$STAGE$src"
		cp -L "$src" "$STAGE$src"
	fi
	for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$STAGE$lib" ] && continue
		mkdir -p "$STAGE$(dirname "$lib")"
		cp -L "$lib" "$STAGE$lib"
	done
}

copy_host_progs() {
	local p path real
	for p in $HOST_PROGS; do
		path=$(command -v "$p" 2>/dev/null) || {
			log "host program $p not installed: tests that need it skip in the VM"
			continue
		}
		real=$(readlink -f "$path")
		copy_with_libs "$real"
		if [ "$real" != "$path" ]; then
			mkdir -p "$STAGE$(dirname "$path")"
			ln -sfn "$real" "$STAGE$path"
		fi
		if [ "$p" = iptables ]; then copy_iptables_extras "$real"; fi
	done
}

# iptables (nft) needs its extension plugins and the nf_tables modules.
copy_iptables_extras() {
	local real=$1 n so xt
	for n in iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		if command -v "$n" >/dev/null; then
			mkdir -p "$STAGE$(dirname "$(command -v "$n")")"
			ln -sfn "$real" "$STAGE$(command -v "$n")"
		fi
	done
	xt=$(dirname "$(ldd "$real" | grep -o '/[^ ]*libxtables[^ ]*' | head -n 1)")/xtables
	if [ -d "$xt" ]; then
		for so in "$xt"/*.so; do copy_with_libs "$so"; done
	fi
	MODULES="$MODULES $IPTABLES_MODULES"
}

# ---------------------------------------------------------------- kernel modules

declare -A MOD_PATH=() MOD_SEEN=()
MOD_ORDER=()

index_modules() {
	local f n
	while IFS= read -r f; do
		n=$(basename "$f")
		n=${n%%.ko*}
		MOD_PATH[${n//-/_}]=$f
	done < <(find "$KDIR/modules/kernel" -name '*.ko*')
}

# ko_bytes prints module file F uncompressed.
ko_bytes() {
	case "$1" in
	*.ko.xz) xz -dc "$1" ;;
	*.ko.zst) zstd -qdc "$1" ;;
	*.ko.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

# add_module NAME PARAMS appends NAME after its dependencies (from modinfo's depends=).
add_module() {
	local n=${1//-/_} params=$2 f deps d
	[ -z "${MOD_SEEN[$n]:-}" ] || return 0
	MOD_SEEN[$n]=1
	f=${MOD_PATH[$n]:-}
	if [ -z "$f" ]; then
		if grep -qE "/${n//_/[-_]}\.ko" "$KDIR/modules/modules.builtin" 2>/dev/null; then return 0; fi
		log "warning: kernel module $n not in $KVER: not loaded"
		return 0
	fi
	ko_bytes "$f" >"$STAGE/faaslab/modules/$n.ko"
	deps=$(tr '\0' '\n' <"$STAGE/faaslab/modules/$n.ko" | sed -n 's/^depends=//p' | head -n 1)
	for d in ${deps//,/ }; do add_module "$d" ""; done
	MOD_ORDER+=("$n.ko $params")
}

pack_modules() {
	local m
	index_modules
	for m in $MODULES; do
		add_module "${m%%:*}" "$([ "${m#*:}" != "$m" ] && echo "${m#*:}" | tr ',' ' ')"
	done
	printf '%s\n' "${MOD_ORDER[@]}" >"$STAGE/faaslab/modules.list"
}

pack_initrd() {
	local comp=(gzip -1)
	command -v zstd >/dev/null && comp=(zstd -q -T0 -3)
	(cd "$STAGE" && find . -mindepth 1 -print0 | cpio --null -o -H newc --owner=0:0 --quiet) |
		"${comp[@]}" >"$OUT/initrd.img"
	log "initramfs $(du -h "$OUT/initrd.img" | cut -f1) ($(du -sh "$STAGE" | cut -f1) unpacked, ${comp[0]})"
}

# ---------------------------------------------------------------- boot

# kvm_usable says whether to try KVM first: the device exists and we may open it.
# Whether it can run a guest shows only when it runs one (nested virtualization can
# expose a /dev/kvm whose guests stop on their first emulated instruction), so boot
# watches the KVM attempt and falls back to TCG when it fails.
kvm_usable() {
	[ -e "$KVM_DEV" ] && [ -r "$KVM_DEV" ] && [ -w "$KVM_DEV" ]
}

# kvm_boots boots the kernel alone under KVM (no initramfs: it panics at once, and
# panic=-1 with -no-reboot ends qemu) and says whether it printed its banner and ended
# within PROBE_SECS. On a broken nested KVM the guest stops after the real-mode setup
# code (console: "Probing EDD ... ok", then nothing) or qemu reports a KVM internal error.
kvm_boots() {
	local pid t0=$SECONDS ok=1 out=$OUT/kvm-probe
	: >"$out.console"
	setsid "$QEMU" -accel kvm -cpu max -m 256 -nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$out.console" -kernel "$KDIR/vmlinuz" \
		-append "console=ttyS0 panic=-1 loglevel=4" </dev/null >"$out.qemu" 2>&1 &
	pid=$!
	QEMU_PID=$pid
	while kill -0 "$pid" 2>/dev/null; do
		if [ $((SECONDS - t0)) -ge "$PROBE_SECS" ] || grep -q 'KVM internal error' "$out.qemu" 2>/dev/null; then
			ok=0
			stop_qemu "$pid"
			break
		fi
		sleep 0.2
	done
	wait "$pid" 2>/dev/null || true
	QEMU_PID=""
	grep -q 'Linux version' "$out.console" || ok=0
	if [ "$ok" = 1 ]; then
		log "KVM probe boot: the kernel reached the console in $((SECONDS - t0))s"
	else
		log "KVM probe boot: FAILED: no kernel banner within ${PROBE_SECS}s (console: '$(tail -c 200 "$out.console" | tr '\n' ' ')') $(grep -m 1 'KVM internal error' "$out.qemu" || true)"
	fi
	[ "$ok" = 1 ]
}

# boot runs the VM once under KVM when kvm_usable, else under TCG; a KVM run that hits a
# KVM internal error or whose console stays silent is killed and retried once under TCG.
# Returns non-zero when no run reached a normal qemu exit (the verdict says what is missing).
boot() {
	local accels=(tcg) a
	if ! kvm_usable; then
		log "KVM: $KVM_DEV missing or not accessible: TCG (software emulation)"
	elif kvm_boots; then
		accels=(kvm tcg)
	else
		log "KVM: $KVM_DEV is there but a test boot did not reach the console: TCG (software emulation)"
	fi
	for a in "${accels[@]}"; do
		if boot_once "$a"; then return 0; fi
		if [ "$a" = kvm ] && { [ "$BOOT_RESULT" = kvm-error ] || [ "$BOOT_RESULT" = silent ]; }; then
			log "KVM does not work on this machine ($BOOT_RESULT): retrying once under TCG"
			continue
		fi
		return 1
	done
	return 1
}

# stop_qemu PID kills qemu's process group (TERM, then KILL after 5 s).
stop_qemu() {
	local pid=$1
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

# console_bytes prints how much the guest wrote so far: the console plus the heartbeat
# port (init writes a line there every 10 s, so a long quiet test is not "silent").
console_bytes() {
	echo $(($(stat -c %s "$LOG" 2>/dev/null || echo 0) + $(stat -c %s "$BEAT" 2>/dev/null || echo 0)))
}

# boot_once ACCEL runs qemu under ACCEL (kvm or tcg) with a watchdog: it kills the VM
# when qemu reports a KVM internal error, when neither serial port got output for
# SILENCE_SECS, or after WALL_SECS. Sets BOOT_RESULT (exited, kvm-error, silent,
# timeout, failed) and VM_SECS; returns 0 only when qemu exited with status 0.
boot_once() {
	local accel=$1 rc=0 tailpid="" pid size=0 now last t0=$SECONDS QOUT=$OUT/qemu-$1.out
	local accel_args=(-accel "$accel")
	[ "$accel" != kvm ] || accel_args+=(-accel tcg) # qemu falls back to TCG when KVM fails to start
	: >"$LOG"
	: >"$BEAT"
	if [ "$QUIET" != 1 ]; then
		tail -n +1 -f "$LOG" >&2 &
		tailpid=$!
		TAIL_PID=$tailpid
	fi
	log "booting (${accel_args[*]}, ${MEM_MIB} MiB, $SMP vCPU, timeout ${WALL_SECS}s, silence limit ${SILENCE_SECS}s); console: $LOG"
	# -nodefaults: no NIC (the guest reaches nothing but itself), no VGA, no monitor.
	# setsid: qemu leads its own process group, so stop_qemu reaches all of it.
	setsid "$QEMU" "${accel_args[@]}" -cpu max -m "$MEM_MIB" -smp "$SMP" \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$LOG" -serial "file:$BEAT" \
		-kernel "$KDIR/vmlinuz" -initrd "$OUT/initrd.img" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$QOUT" 2>&1 &
	pid=$!
	QEMU_PID=$pid
	BOOT_RESULT=
	last=$SECONDS
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		now=$(console_bytes)
		if [ "$now" != "$size" ]; then
			size=$now
			last=$SECONDS
		fi
		if grep -q 'KVM internal error' "$QOUT" 2>/dev/null; then
			BOOT_RESULT=kvm-error
			log "qemu: $(grep -m 1 -A 1 'KVM internal error' "$QOUT" | tr '\n' ' ')- killing the VM (qemu pauses a guest after this; a broken nested KVM?)"
		elif [ $((SECONDS - last)) -ge "$SILENCE_SECS" ]; then
			BOOT_RESULT=silent
			log "no console output for ${SILENCE_SECS}s under $accel (FAASLAB_VM_SILENCE): killing the stuck VM"
		elif [ $((SECONDS - t0)) -ge "$WALL_SECS" ]; then
			BOOT_RESULT=timeout
			log "VM killed after the ${WALL_SECS}s timeout (FAASLAB_VM_TIMEOUT)"
		else
			continue
		fi
		stop_qemu "$pid"
		break
	done
	wait "$pid" || rc=$?
	QEMU_PID=""
	VM_SECS=$((SECONDS - t0))
	if [ -n "$tailpid" ]; then
		sleep 0.3
		kill "$tailpid" 2>/dev/null || true
		wait "$tailpid" 2>/dev/null || true
		TAIL_PID=""
	fi
	if [ -z "$BOOT_RESULT" ]; then
		BOOT_RESULT=exited
		if [ "$rc" != 0 ]; then
			BOOT_RESULT=failed
			log "qemu exited with $rc: $(tail -n 5 "$QOUT")"
		fi
	fi
	log "VM ran ${VM_SECS}s under $accel ($BOOT_RESULT)"
	[ "$BOOT_RESULT" = exited ]
}

# ---------------------------------------------------------------- verdict

# verdict parses the console log against tests.list; exit status 0 only when every
# package ran to its END marker with rc=0 and printed PASS.
verdict() {
	local status=0 b
	tr -d '\r' <"$LOG" | awk -v list="$STAGE/faaslab/tests.list" '
		BEGIN {
			while ((getline line < list) > 0) { split(line, f, " "); n++; order[n] = f[1] }
		}
		/^=== FAASLAB-VM BEGIN / { cur = $4; began[cur] = 1; next }
		/^=== FAASLAB-VM END / {
			p = $4; ended[p] = 1; rc[p] = substr($5, 4); secs[p] = substr($6, 6); cur = ""; next
		}
		/^=== FAASLAB-VM FATAL / { fatal = $0 }
		/^=== FAASLAB-VM ALL-DONE/ { done = 1 }
		cur != "" && /^PASS$/ { pass[cur] = 1 }
		cur != "" && /^=== (RUN|CONT) / { running[cur] = $3 }
		cur != "" && /^[ \t]*--- FAIL: / { sub(/^[ \t]*/, ""); fails[cur] = fails[cur] "      " $0 "\n" }
		cur != "" && /^[ \t]*--- SKIP: / { skips[cur]++ }
		cur != "" && /^[ \t]*--- PASS: / { passes[cur]++ }
		cur != "" && (/^panic: / || /^fatal error: / || /test timed out after/) { fails[cur] = fails[cur] "      " $0 "\n" }
		END {
			bad = 0
			printf "\nvm: results (cgroup v2, kernel in VM)\n"
			for (i = 1; i <= n; i++) {
				p = order[i]
				if (!began[p]) { printf "  NOT RUN   %s\n", p; bad = 1; continue }
				if (!ended[p]) { printf "  UNFINISHED %s (VM stopped during %s)\n%s", p, running[p], fails[p]; bad = 1; continue }
				ok = (rc[p] == "0" && pass[p])
				printf "  %-9s %-28s rc=%s %3d passed %3d skipped %ss\n", ok ? "ok" : "FAIL", p, rc[p], passes[p], skips[p], secs[p]
				if (!ok) { printf "%s", fails[p]; bad = 1 }
			}
			if (fatal != "") { print "  " fatal; bad = 1 }
			if (!done) { print "  the VM did not reach ALL-DONE"; bad = 1 }
			exit bad
		}' >&2 || status=1
	for b in "${BUILD_FAILED[@]}"; do
		echo "  BUILD FAILED $b" >&2
		status=1
	done
	return $status
}

main() {
	need "$QEMU" cpio "$GO" apt-get dpkg setsid stat
	[ -f "$REPO/go.mod" ] || fail "$REPO is not the faaslab tree (set FAASLAB_VM_REPO)"
	local t0=$SECONDS
	fetch_kernel
	rm -rf "$STAGE"
	mkdir -p "$STAGE"
	make_rootfs
	build_tests
	build_testdata_progs
	build_programs
	stage_release
	copy_host_progs
	pack_modules
	pack_initrd
	log "prepared in $((SECONDS - t0))s"
	boot || true # the verdict names what did not run
	if verdict; then
		log "PASS: all VM tests passed (log: $LOG)"
		return 0
	fi
	log "FAIL: see above; full console log: $LOG"
	return 1
}

# Sourcing the script (the tests in boot_test.go do) defines the functions only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
