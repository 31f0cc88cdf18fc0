#!/usr/bin/env bash
# build-context.sh — assemble the runtime image's build context in a directory, for a
# manual `docker build` (the daemon and `faaslab image build` do the same in Go, see
# sandbox/docker.BuildImage).
#
#   deploy/image/build-context.sh OUTDIR RUNTIME_BIN [--with-iperf3]
#   docker build -t faaslab-runtime:latest OUTDIR
#
# RUNTIME_BIN must be static: CGO_ENABLED=0 go build -o bin/faaslab-runtime ./cmd/faaslab-runtime
set -euo pipefail

usage() { echo "usage: $0 OUTDIR RUNTIME_BIN [--with-iperf3]" >&2; exit 2; }
[ $# -ge 2 ] || usage
out=$1 runtime=$2 iperf=${3:-}
here=$(cd "$(dirname "$0")" && pwd)

if file -L "$runtime" 2>/dev/null | grep -q 'dynamically linked'; then
	echo "$runtime is dynamically linked; rebuild it with CGO_ENABLED=0" >&2
	exit 1
fi

rm -rf "$out"
mkdir -p "$out/rootfs/var/runtime" "$out/rootfs/var/task" "$out/rootfs/tmp"
chmod 1777 "$out/rootfs/tmp"
cp "$here/Dockerfile" "$out/Dockerfile"
cp -r "$here/rootfs/." "$out/rootfs/"
install -m 0755 "$runtime" "$out/rootfs/var/runtime/faaslab-runtime"
ln -s faaslab-runtime "$out/rootfs/var/runtime/bootstrap"

copy_host_file() { # copy a host file (symlinks resolved) to the same path in the image
	mkdir -p "$out/rootfs$(dirname "$1")"
	cp -L "$1" "$out/rootfs$1"
}

if [ "$iperf" = "--with-iperf3" ]; then
	bin=$(command -v iperf3) || { echo "iperf3 not found on the host: apt-get install iperf3" >&2; exit 1; }
	copy_host_file "$bin"
	# ldd prints "name => /path (addr)" for libraries and "/path (addr)" for the loader.
	ldd "$bin" | awk '/=>/ { if ($3 ~ /^\//) print $3; next } $1 ~ /^\// { print $1 }' |
		while read -r lib; do copy_host_file "$lib"; done
elif [ -n "$iperf" ]; then
	usage
fi
echo "context ready in $out: docker build -t faaslab-runtime:latest $out"
