# faaslab — build, test and benchmark. Every target installs what it needs (idempotently).
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := /usr/local/go/bin:$(PATH)

# Debian packages the project needs at build, test and run time.
APT_PACKAGES := iptables iproute2 iperf3 docker.io qemu-system-x86 busybox-static cpio \
	python3-boto3 awscli util-linux ca-certificates zstd \
	prometheus shellcheck

.PHONY: all deps build test test-unit test-vm test-vm-broken test-dashboard-broken bench run daemon image docker-up cleanup fmt vet \
	install install-files release

all: build

## deps: install the Debian packages above when any is missing (apt-get update first).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "deps: all present"; fi

## build: the CLI/daemon and the static in-sandbox bootstrap.
build:
	@mkdir -p $(BIN)
	$(GO) build -buildvcs=auto -o $(BIN)/faaslab ./cmd/faaslab
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/faaslab-runtime ./cmd/faaslab-runtime

## docker-up: start a Docker Engine when none answers (installs docker.io if needed).
docker-up: deps
	bash deploy/docker-up.sh

## image: the FROM-scratch runtime image (with iperf3) for --backend docker.
image: build docker-up
	$(BIN)/faaslab image build --with-iperf3

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test-unit: the Go test suite on this host (root tests run for real here).
test-unit: deps build docker-up vet
	FAASLAB_RUNTIME_BIN=$(BIN)/faaslab-runtime FAASLAB_BIN=$(BIN)/faaslab \
		$(GO) test -count=1 -timeout 12m -p 2 ./...

## test-vm: the privileged tests inside a QEMU VM on Debian's 6.1 kernel with cgroup v2.
test-vm: deps
	bash deploy/vm/run-tests.sh

## test-vm-broken: show that a broken cgroup v2 cpu.max makes the VM tests fail.
test-vm-broken: deps
	bash deploy/vm/check-broken-v2.sh

## test-dashboard-broken: show that the Grafana dashboard check fails on a misspelt metric.
test-dashboard-broken: deps build
	FAASLAB_RUNTIME_BIN=$(BIN)/faaslab-runtime FAASLAB_BIN=$(BIN)/faaslab bash deploy/grafana/check-broken.sh

## test: everything CI runs: the host suite, then the cgroup v2 VM when QEMU can run.
test: test-unit
	@if [ -x /usr/bin/qemu-system-x86_64 ] && [ -f deploy/vm/run-tests.sh ]; then \
		$(MAKE) --no-print-directory test-vm; \
	else echo "test-vm: skipped (qemu-system-x86_64 not available)"; fi

## bench: the performance tables (medians of several runs, ratios against baselines).
bench: deps build docker-up image
	$(BIN)/faaslab bench all

## run: the quick reproduction of every figure plus policies and today, on a private daemon;
## ends with the trend checks and the reports' paths (results/<spec>/<run-id>/report.md).
run: deps build
	$(BIN)/faaslab experiment run all --quick --runtime-bin $(BIN)/faaslab-runtime

## daemon: the daemon alone on the default setup (native backend, c3.large, 127.0.0.1:3001).
daemon: deps build
	$(BIN)/faaslab daemon --runtime-bin $(BIN)/faaslab-runtime

## cleanup: remove the default configuration's kernel objects (after a crash).
cleanup: build
	$(BIN)/faaslab cleanup

# Install locations (DESTDIR stages a package root, as in `make install DESTDIR=/tmp/root`).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= /etc/systemd/system
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST := $(CURDIR)/dist

## install: binaries to $(PREFIX)/bin, the systemd unit, /etc/faaslab/faaslab.yaml (kept if present).
install: build install-files
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; \
		echo "install: systemctl enable --now faaslab   # to start it"; fi

## install-files: copy what `make build` made (no build, no systemctl): used by install and tests.
install-files:
	install -D -m 0755 $(BIN)/faaslab $(DESTDIR)$(PREFIX)/bin/faaslab
	install -D -m 0755 $(BIN)/faaslab-runtime $(DESTDIR)$(PREFIX)/bin/faaslab-runtime
	install -D -m 0644 deploy/systemd/faaslab.service $(DESTDIR)$(SYSTEMDDIR)/faaslab.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/faaslab/faaslab.yaml ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/faaslab/faaslab.yaml (new defaults: deploy/faaslab.yaml)"; \
	else install -D -m 0644 deploy/faaslab.yaml $(DESTDIR)$(SYSCONFDIR)/faaslab/faaslab.yaml; fi
	install -D -m 0644 deploy/prometheus/prometheus.yml $(DESTDIR)$(PREFIX)/share/faaslab/prometheus.yml
	install -D -m 0644 deploy/grafana/faaslab.json $(DESTDIR)$(PREFIX)/share/faaslab/grafana-faaslab.json
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/faaslab/README.md

## release: dist/faaslab-VERSION-linux-amd64.tar.gz (static binaries, unit, configs, docs) and SHA256SUMS.
release:
	rm -rf $(DIST) && mkdir -p $(DIST)/stage/bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(DIST)/stage/bin/faaslab ./cmd/faaslab
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(DIST)/stage/bin/faaslab-runtime ./cmd/faaslab-runtime
	$(MAKE) --no-print-directory install-files BIN=$(DIST)/stage/bin DESTDIR=$(DIST)/root
	cp -a deploy/ec2/user-data.sh $(DIST)/root/
	tar -C $(DIST)/root --owner=0 --group=0 --sort=name -czf $(DIST)/faaslab-$(VERSION)-linux-amd64.tar.gz .
	cd $(DIST) && sha256sum faaslab-$(VERSION)-linux-amd64.tar.gz > SHA256SUMS
	rm -rf $(DIST)/stage $(DIST)/root
	@cat $(DIST)/SHA256SUMS
