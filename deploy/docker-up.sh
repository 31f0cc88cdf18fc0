#!/usr/bin/env bash
# docker-up.sh — make sure a Docker Engine answers on this host, idempotently.
#
#   1. `docker info` answers              -> nothing to do.
#   2. dockerd missing                     -> apt-get update && apt-get install docker.io.
#   3. start dockerd in the background     -> log /var/log/faaslab-dockerd.log,
#                                             pidfile /var/run/faaslab-dockerd.pid
#   4. wait (bounded) until `docker info` answers, else print the log tail and fail.
#
# Hosts without systemd (containers, CI sandboxes, this project's VMs) are the reason this
# starts dockerd by hand; where systemd runs, it asks systemd first.
#
# Environment:
#   FAASLAB_DOCKERD_WAIT_S   seconds to wait for the engine (default 60)
#   FAASLAB_DOCKERD_ARGS     extra dockerd arguments (default none)
set -euo pipefail

LOG=/var/log/faaslab-dockerd.log
PIDFILE=/var/run/faaslab-dockerd.pid
WAIT_S=${FAASLAB_DOCKERD_WAIT_S:-60}

say() { echo "docker-up: $*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
	say "engine already answers ($(docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null || echo '?'))"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	say "no Docker Engine answers and starting one needs root: run as root (sudo bash $0)"
	exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
	say "dockerd or docker CLI missing: installing docker.io"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

# A dockerd we started earlier may still be coming up: wait for it instead of starting
# a second one (two engines fight over /var/run/docker.sock and /var/lib/docker).
running_pid=""
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
	running_pid=$(cat "$PIDFILE")
	say "dockerd (pid $running_pid) already started by this script; waiting for it"
elif [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
	running_pid=$(cat /var/run/docker.pid)
	say "a dockerd (pid $running_pid) is running but not answering yet; waiting for it"
fi

if [ -z "$running_pid" ]; then
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		say "starting docker.service via systemd"
		systemctl start docker.service || say "systemctl start docker failed; starting dockerd by hand"
	fi
	if ! engine_answers; then
		say "starting dockerd (log $LOG)"
		# setsid: the engine must outlive this shell and its process group (make, CI steps).
		# shellcheck disable=SC2086
		setsid dockerd --pidfile /var/run/docker.pid ${FAASLAB_DOCKERD_ARGS:-} \
			>>"$LOG" 2>&1 </dev/null &
		echo $! >"$PIDFILE"
		running_pid=$!
	fi
fi

for ((i = 0; i < WAIT_S * 4; i++)); do
	if engine_answers; then
		say "engine up ($(docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null || echo '?'))"
		exit 0
	fi
	if [ -n "$running_pid" ] && ! kill -0 "$running_pid" 2>/dev/null; then
		say "dockerd (pid $running_pid) exited before answering; last log lines of $LOG:"
		tail -n 20 "$LOG" >&2 || true
		exit 1
	fi
	sleep 0.25
done

say "dockerd did not answer within ${WAIT_S}s; last log lines of $LOG:"
tail -n 20 "$LOG" >&2 || true
exit 1
