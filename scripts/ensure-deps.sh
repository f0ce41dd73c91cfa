#!/usr/bin/env bash
# Installs what pgha needs and is missing: PostgreSQL 15, repmgr, barman, redis-server (Debian
# packages) and node_modules; with --test also what the tests use: chromium, stress-ng, and a
# container engine for the compose test (podman, docker-compose, the base images made here).
# Idempotent; does nothing (in about a second) when all is there.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf 'ensure-deps: %s\n' "$*"; }

# --- Debian packages -----------------------------------------------------------------------
# package -> a file it installs
missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
{ [ -x /usr/lib/postgresql/15/bin/repmgr ] && [ -x /usr/lib/postgresql/15/bin/repmgrd ] && [ -e /usr/bin/repmgr ]; } ||
  missing+=(postgresql-15-repmgr)
[ -x /usr/bin/barman ] || missing+=(barman)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
# restores to a node on another host go through ssh + rsync (tested against a private sshd on loopback)
[ -x /usr/sbin/sshd ] && [ -x /usr/bin/ssh ] || missing+=(openssh-server openssh-client)
[ -x /usr/bin/rsync ] || missing+=(rsync)
# the test suite drives the dashboard in a real browser (playwright-core, never a downloaded one)
if [ "${1:-}" = --test ]; then [ -x /usr/bin/chromium ] || missing+=(chromium); fi
# the compose test runs docker-compose.yml on rootful podman (test/engine/): podman with runc (crun
# refuses this machine's hybrid cgroups), netavark and aardvark-dns for compose's network and names,
# catatonit for `init: true`, Debian's docker-compose on podman's Docker API, and debootstrap for
# the base images (no image registry is reachable: scripts/container-base.sh)
if [ "${1:-}" = --test ]; then
  [ -x /usr/bin/podman ] || missing+=(podman)
  [ -x /usr/sbin/runc ] || missing+=(runc)
  [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
  [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
  [ -x /usr/sbin/iptables ] || missing+=(iptables)
  [ -x /usr/libexec/podman/catatonit ] || [ -x /usr/bin/catatonit ] || missing+=(catatonit)
  [ -x /usr/bin/docker-compose ] || missing+=(docker-compose)
  [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
fi
# the nemesis suite (npm run chaos) starves the CPU with stress-ng
if [ "${1:-}" = --test ]; then [ -x /usr/bin/stress-ng ] || missing+=(stress-ng); fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    say "missing Debian packages: ${missing[*]}"
    say "install them as root: apt-get install -y ${missing[*]}"
    exit 1
  fi

  # What was already running before the install: only what the install itself started is stopped.
  pg_cluster_running() {
    command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql/15/main ] &&
      "${SUDO[@]}" pg_ctlcluster 15 main status >/dev/null 2>&1
  }
  redis_running() {
    command -v redis-cli >/dev/null 2>&1 &&
      [ "$(timeout 2 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || true)" = PONG ]
  }
  pg_before=no; pg_cluster_running && pg_before=yes
  redis_before=no; redis_running && redis_before=yes

  say "installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"

  # Debian's packages may start a default cluster (postgresql@15-main on 5432) and a redis-server
  # on 6379; pgha runs its own, so stop those if this install started them.
  if [ "$pg_before" = no ] && pg_cluster_running; then
    say "stopping the default cluster 15/main started by the install"
    "${SUDO[@]}" pg_ctlcluster 15 main stop || say "could not stop 15/main (pg_ctlcluster 15 main stop)"
  fi
  if [ "$redis_before" = no ] && redis_running; then
    say "stopping the redis-server on 6379 started by the install"
    timeout 5 redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
  fi
  # /etc/cron.d/barman (barman's own cron) is left as the package shipped it.
fi

# --- the container engine's settings and base images (tests only) ----------------------------------
if [ "${1:-}" = --test ]; then
  conf=/etc/containers/containers.conf
  want=$(cat <<'CONF'
# written by pgha's scripts/ensure-deps.sh: crun refuses this machine's hybrid cgroups; root here
# cannot raise the default ulimits further; netavark (not CNI) for compose's networks and names
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
CONF
)
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
    if [ "$(id -u)" -ne 0 ]; then say "the compose test needs root (rootful podman, $conf)"; exit 1; fi
    say "writing $conf (runc, netavark, ulimits root can grant here)"
    mkdir -p /etc/containers
    [ -f "$conf" ] && ! grep -q "pgha's scripts/ensure-deps.sh" "$conf" && cp "$conf" "$conf.before-pgha"
    printf '%s\n' "$want" >"$conf"
  fi
  bash scripts/container-base.sh
fi

# --- node_modules ----------------------------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
  say "npm not found: install Node.js 20 (Debian: apt-get install nodejs npm)"
  exit 1
fi
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi
