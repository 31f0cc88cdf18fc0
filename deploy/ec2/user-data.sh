#!/usr/bin/env bash
# user-data.sh — turn a fresh EC2 instance into a faaslab host in one step.
#
# Paste as the instance's user data (it runs as root at first boot) or run it by hand with
# sudo. Supported: Ubuntu 24.04 and Amazon Linux 2023 (both boot with cgroup v2 only).
# It installs the dependencies, faaslab (from a release tarball or a git checkout), the
# systemd unit and /etc/faaslab/faaslab.yaml, optionally Docker and Prometheus, starts the
# daemon and runs `faaslab doctor`. Progress goes to /var/log/faaslab-user-data.log.
#
# Settings (edit here, or export them before running by hand):
FAASLAB_RELEASE_URL=${FAASLAB_RELEASE_URL:-}  # URL of faaslab-VERSION-linux-amd64.tar.gz (SHA256SUMS next to it)
FAASLAB_TARBALL=${FAASLAB_TARBALL:-}          # or a tarball already on this machine
FAASLAB_GIT=${FAASLAB_GIT:-}                  # or a git URL (or a local checkout) to build from
FAASLAB_REF=${FAASLAB_REF:-main}              # branch or tag of FAASLAB_GIT
GO_VERSION=${GO_VERSION:-1.26.0}              # Go toolchain for a checkout build
WITH_DOCKER=${WITH_DOCKER:-0}                 # 1: install Docker (for --backend docker)
WITH_PROMETHEUS=${WITH_PROMETHEUS:-0}         # 1: install Prometheus scraping the daemon every second
FAASLAB_START=${FAASLAB_START:-1}             # 0: install only
FAASLAB_SKIP_PACKAGES=${FAASLAB_SKIP_PACKAGES:-0} # 1: install no OS package (deps already present, or offline);
#                                               any OS then, but WITH_DOCKER/WITH_PROMETHEUS are skipped too
# Without a running systemd (a container, a test VM) the unit is installed but not started.
set -euo pipefail

LOG=/var/log/faaslab-user-data.log
exec > >(tee -a "$LOG") 2>&1
log() { echo "faaslab-user-data: $*"; }
die() {
	log "ERROR: $*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (sudo)"
if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
fi
case "${ID:-}" in
ubuntu) PKG=apt ;;
amzn) PKG=dnf ;;
*)
	# The OS matters only for package names: without package installs any Linux will do.
	[ "$FAASLAB_SKIP_PACKAGES" = 1 ] || die "unsupported OS ${ID:-unknown} (want Ubuntu 24.04 or Amazon Linux 2023; FAASLAB_SKIP_PACKAGES=1 when the dependencies are already there)"
	PKG=none
	;;
esac
log "OS: ${PRETTY_NAME:-${ID:-unknown}}; cgroup: $(stat -fc %T /sys/fs/cgroup)"
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || log "warning: not cgroup v2 only; faaslab also runs on v1/hybrid"

# have_systemd: systemd is the running init (what systemctl needs), as on every EC2 AMI.
have_systemd() {
	command -v systemctl >/dev/null && [ -d /run/systemd/system ]
}

install_deps() {
	if [ "$FAASLAB_SKIP_PACKAGES" = 1 ]; then
		log "FAASLAB_SKIP_PACKAGES=1: installing no packages (iproute2, iptables, iperf3 must be there already)"
		return 0
	fi
	log "installing dependencies"
	if [ "$PKG" = apt ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq iproute2 iptables iperf3 python3-boto3 ca-certificates curl tar git make >/dev/null
	else
		dnf install -y -q iproute iptables-nft iperf3 python3-boto3 ca-certificates tar gzip git make >/dev/null
		command -v curl >/dev/null || dnf install -y -q curl-minimal >/dev/null
	fi
}

install_docker() {
	[ "$WITH_DOCKER" = 1 ] || return 0
	[ "$FAASLAB_SKIP_PACKAGES" != 1 ] || {
		log "FAASLAB_SKIP_PACKAGES=1: not installing Docker (WITH_DOCKER=1 ignored)"
		return 0
	}
	log "installing Docker"
	if [ "$PKG" = apt ]; then
		apt-get install -y -qq docker.io >/dev/null
	else
		dnf install -y -q docker >/dev/null
	fi
	systemctl enable --now docker
}

# install_tree DIR copies an unpacked release (or a `make install DESTDIR` root) into place;
# an existing /etc/faaslab/faaslab.yaml is kept.
install_tree() {
	local root=$1
	install -m 0755 "$root/usr/local/bin/faaslab" "$root/usr/local/bin/faaslab-runtime" /usr/local/bin/
	install -D -m 0644 "$root/etc/systemd/system/faaslab.service" /etc/systemd/system/faaslab.service
	if [ ! -e /etc/faaslab/faaslab.yaml ]; then
		install -D -m 0644 "$root/etc/faaslab/faaslab.yaml" /etc/faaslab/faaslab.yaml
	fi
	mkdir -p /usr/local/share/faaslab
	cp -a "$root/usr/local/share/." /usr/local/share/
}

install_from_tarball() {
	local tarball=$1 work
	work=$(mktemp -d)
	tar -C "$work" -xzf "$tarball"
	install_tree "$work"
	rm -rf "$work"
}

install_from_release() {
	local work name
	work=$(mktemp -d)
	name=$(basename "$FAASLAB_RELEASE_URL")
	log "downloading $FAASLAB_RELEASE_URL"
	curl -fsSL -o "$work/$name" "$FAASLAB_RELEASE_URL"
	curl -fsSL -o "$work/SHA256SUMS" "$(dirname "$FAASLAB_RELEASE_URL")/SHA256SUMS"
	(cd "$work" && sha256sum -c --ignore-missing SHA256SUMS) || die "checksum mismatch for $name"
	install_from_tarball "$work/$name"
	rm -rf "$work"
}

install_go() {
	if command -v go >/dev/null && go version | grep -q "go$GO_VERSION"; then return 0; fi
	[ -x /usr/local/go/bin/go ] && /usr/local/go/bin/go version | grep -q "go$GO_VERSION" && return 0
	log "installing Go $GO_VERSION"
	curl -fsSL "https://go.dev/dl/go$GO_VERSION.linux-amd64.tar.gz" | tar -C /usr/local -xzf -
}

install_from_checkout() {
	local src=/opt/faaslab
	if [ -d "$FAASLAB_GIT/.git" ]; then
		src=$FAASLAB_GIT
	elif [ -d "$src/.git" ]; then
		git -C "$src" fetch -q origin "$FAASLAB_REF" && git -C "$src" checkout -q FETCH_HEAD
	else
		git clone -q --branch "$FAASLAB_REF" "$FAASLAB_GIT" "$src"
	fi
	install_go
	log "building faaslab in $src"
	local root
	root=$(mktemp -d)
	PATH=/usr/local/go/bin:$PATH make -C "$src" --no-print-directory build install-files DESTDIR="$root"
	install_tree "$root"
	rm -rf "$root"
}

install_prometheus() {
	[ "$WITH_PROMETHEUS" = 1 ] || return 0
	[ "$FAASLAB_SKIP_PACKAGES" != 1 ] || {
		log "FAASLAB_SKIP_PACKAGES=1: not installing Prometheus (WITH_PROMETHEUS=1 ignored)"
		return 0
	}
	log "installing Prometheus"
	if [ "$PKG" = apt ]; then
		apt-get install -y -qq prometheus >/dev/null
		install -m 0644 /usr/local/share/faaslab/prometheus.yml /etc/prometheus/prometheus.yml
		systemctl restart prometheus
	else
		# Amazon Linux 2023 has no prometheus package: the upstream release binary.
		local v=2.53.2 work
		work=$(mktemp -d)
		curl -fsSL "https://github.com/prometheus/prometheus/releases/download/v$v/prometheus-$v.linux-amd64.tar.gz" |
			tar -C "$work" -xzf -
		install -m 0755 "$work/prometheus-$v.linux-amd64/prometheus" /usr/local/bin/prometheus
		install -D -m 0644 /usr/local/share/faaslab/prometheus.yml /etc/prometheus/prometheus.yml
		rm -rf "$work"
		cat >/etc/systemd/system/prometheus.service <<'UNIT'
[Unit]
Description=Prometheus (scraping faaslab)
After=faaslab.service
[Service]
ExecStart=/usr/local/bin/prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/var/lib/prometheus --web.listen-address=127.0.0.1:9090
StateDirectory=prometheus
Restart=on-failure
[Install]
WantedBy=multi-user.target
UNIT
		systemctl daemon-reload
		systemctl enable --now prometheus
	fi
}

main() {
	install_deps
	install_docker
	if [ -n "$FAASLAB_TARBALL" ]; then
		install_from_tarball "$FAASLAB_TARBALL"
	elif [ -n "$FAASLAB_RELEASE_URL" ]; then
		install_from_release
	elif [ -n "$FAASLAB_GIT" ]; then
		install_from_checkout
	else
		die "set FAASLAB_RELEASE_URL, FAASLAB_TARBALL or FAASLAB_GIT"
	fi
	install_prometheus
	if ! have_systemd; then
		log "no running systemd: the unit is installed in /etc/systemd/system/faaslab.service but not started;"
		log "start the daemon as its ExecStart says: /usr/local/bin/faaslab daemon --config /etc/faaslab/faaslab.yaml"
	elif [ "$FAASLAB_START" = 1 ]; then
		systemctl daemon-reload
		systemctl enable --now faaslab
		for _ in $(seq 1 30); do
			faaslab fn list >/dev/null 2>&1 && break
			sleep 1
		done
		systemctl --no-pager status faaslab | head -5 || true
	else
		systemctl daemon-reload
	fi
	faaslab doctor || die "faaslab doctor failed: see above"
	log "done: faaslab is installed; the daemon listens on the config's listen address (default 127.0.0.1:3001)"
}

main "$@"
