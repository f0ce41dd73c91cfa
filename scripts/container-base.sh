#!/usr/bin/env bash
# The base images the Dockerfile's FROM lines name, made on this machine: no image registry is
# reachable here. debian:bookworm-slim is `debootstrap --variant=minbase bookworm` (what the official
# image is made from); node:20-bookworm-slim is the same root with this machine's Node 20 and npm in
# /usr/local (where the official image keeps them). Both are imported into podman's storage once and
# kept; the debootstrap root is cached under /var/cache/pgha-images. Idempotent: nothing to do when
# both images are there. Run as root (rootful podman).
set -euo pipefail

say() { printf 'container-base: %s\n' "$*"; }
CACHE=/var/cache/pgha-images
MIRROR=http://deb.debian.org/debian

have() { podman image exists "$1" 2>/dev/null; }
if have localhost/debian:bookworm-slim && have localhost/node:20-bookworm-slim; then exit 0; fi

command -v node >/dev/null && command -v npm >/dev/null || { say "node and npm (Node.js 20) are needed for node:20-bookworm-slim"; exit 1; }
[ "$(node -p 'process.versions.node.split(".")[0]')" = 20 ] || { say "node $(node --version) is not Node.js 20: node:20-bookworm-slim would lie"; exit 1; }

mkdir -p "$CACHE"
root="$CACHE/debian-bookworm"
if [ ! -f "$root/.done" ]; then
  say "debootstrap bookworm into $root (several minutes, once per machine)"
  # a debootstrap killed half-way leaves proc/sys mounted inside: unmount before removing
  if [ -d "$root.tmp" ]; then
    findmnt -Rrn -o TARGET "$root.tmp" 2>/dev/null | sort -r | xargs -r umount -l
    rm -rf --one-file-system "$root.tmp"
  fi
  debootstrap --variant=minbase bookworm "$root.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE/debootstrap.log"; exit 1; }
  # as in a container build: maintainer scripts must not start services
  printf '#!/bin/sh\nexit 101\n' >"$root.tmp/usr/sbin/policy-rc.d"
  chmod 755 "$root.tmp/usr/sbin/policy-rc.d"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
    "$MIRROR" "$MIRROR" >"$root.tmp/etc/apt/sources.list"
  rm -rf "$root.tmp/var/cache/apt/archives/"*.deb "$root.tmp/var/lib/apt/lists/"*
  touch "$root.tmp/.done"
  rm -rf "$root"
  mv "$root.tmp" "$root"
fi

PATHS='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
if ! have localhost/debian:bookworm-slim; then
  say "podman import debian:bookworm-slim"
  tar -C "$root" --exclude=./.done -c . | podman import -q --change "ENV $PATHS" --change 'CMD ["bash"]' - localhost/debian:bookworm-slim >/dev/null
fi

if ! have localhost/node:20-bookworm-slim; then
  say "podman import node:20-bookworm-slim (this machine's $(node --version))"
  node_root="$CACHE/node-20-bookworm.tmp"
  rm -rf "$node_root"
  cp -a "$root" "$node_root"
  rm -f "$node_root/.done"
  install -D -m 755 "$(command -v node)" "$node_root/usr/local/bin/node"
  npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
  [ -f "$npm_dir/package.json" ] || { say "npm's folder not found beside $(command -v npm)"; exit 1; }
  mkdir -p "$node_root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$node_root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$node_root/usr/local/bin/npm"
  # this machine reaches the npm registry through a proxy with its own CA: the build stage (only;
  # the runtime images start from debian:bookworm-slim) trusts what this machine trusts
  ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
  extra=()
  if [ -f "$ca" ]; then
    mkdir -p "$node_root/etc/ssl"
    cp "$ca" "$node_root/etc/ssl/build-host-ca.crt"
    extra=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/build-host-ca.crt')
  fi
  tar -C "$node_root" -c . | podman import -q --change "ENV $PATHS" "${extra[@]}" --change 'CMD ["node"]' - localhost/node:20-bookworm-slim >/dev/null
  rm -rf "$node_root"
fi
say "base images ready: debian:bookworm-slim, node:20-bookworm-slim (localhost/)"
