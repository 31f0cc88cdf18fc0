#!/usr/bin/env bash
# check-broken.sh — show that the dashboard check fails when a panel names a metric the
# daemon does not export.
#
# Copies deploy/grafana/faaslab.json (the original is never modified), misspells one
# metric of one panel (faaslab_function_cpu_throttled_seconds_total ->
# faaslab_function_cpu_throtled_seconds_total), and runs the dashboard check
# (TestE2EMetricsLintAndDashboard/dashboard, against a running daemon's /metrics) on the
# copy: it must FAIL, naming the misspelt metric. First the same check runs on the
# unmodified dashboard and must PASS, so the failure is the patch's. Needs root (the test
# skips otherwise, which this script reports as a failure). Exit 0 = the check behaves as
# it should.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/faaslab-broken-dashboard.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
GOOD=faaslab_function_cpu_throttled_seconds_total
BAD=faaslab_function_cpu_throtled_seconds_total
TEST='TestE2EMetricsLintAndDashboard$/^dashboard$'

log() { echo "check-broken-dashboard: $*" >&2; }
fail() {
	log "FAILED: $*"
	exit 1
}

run_check() { # run_check DASHBOARD LOG
	(cd "$ROOT/cmd/faaslab" && FAASLAB_DASHBOARD=$1 go test -count=1 -v -run "$TEST" . >"$2" 2>&1)
}

grep -q "$GOOD" "$HERE/faaslab.json" || fail "$GOOD is not in the dashboard any more: update this script"
cp "$HERE/faaslab.json" "$WORK/broken.json"
sed -i "0,/$GOOD/s//$BAD/" "$WORK/broken.json"
grep -q "$BAD" "$WORK/broken.json" || fail "could not patch the copy"

log "baseline: the deployed dashboard must pass"
if ! run_check "$HERE/faaslab.json" "$WORK/good.log"; then
	tail -40 "$WORK/good.log" >&2
	fail "the unmodified dashboard does not pass"
fi
grep -q -- "--- PASS: TestE2EMetricsLintAndDashboard/dashboard" "$WORK/good.log" ||
	{ tail -20 "$WORK/good.log" >&2; fail "the dashboard check did not run (skipped?)"; }

log "broken copy: one panel names $BAD"
if run_check "$WORK/broken.json" "$WORK/bad.log"; then
	fail "the dashboard check passed on a dashboard naming $BAD"
fi
grep -E "metric $BAD is not exported" "$WORK/bad.log" >&2 ||
	{ tail -40 "$WORK/bad.log" >&2; fail "the run failed, but not on the misspelt metric"; }
log "OK: the check fails on the broken copy and names the missing metric"
