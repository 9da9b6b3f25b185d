#!/usr/bin/env bash
# Puts lwIP's source (Debian's source package `lwip`, the upstream tarball
# inside it) into DEST, for libsure's Z-stack to build its TCP/IP stack from
# (libsure/lwip.mk). Never copied into the repo: fetched here, at build time.
# Debian's liblwip-dev cannot be used instead: it is built threaded
# (NO_SYS=0), and the Z-stack runs lwIP's raw API on one thread (NO_SYS=1).
#
#   scripts/lwip_source.sh DEST
#
# Needs a deb-src entry for apt; as root one is added for Debian's main
# archive when missing. SURE_LWIP_TARBALL=path uses that tarball instead.
set -euo pipefail
dest=$1
[ -f "$dest/src/core/tcp.c" ] && exit 0
log() { printf '[lwip] %s\n' "$*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=${SURE_LWIP_TARBALL:-}
if [ -z "$tarball" ]; then
  if ! apt-get source --download-only --print-uris lwip >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      log "apt has no deb-src entry: add one (or set SURE_LWIP_TARBALL), or run scripts/setup.sh as root"
      exit 1
    fi
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    log "adding a deb-src entry for Debian $suite (/etc/apt/sources.list.d/sure-deb-src.sources)"
    cat >/etc/apt/sources.list.d/sure-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq >/dev/null
  fi
  log "fetching Debian's lwip source package"
  (cd "$work" && apt-get source --download-only lwip >/dev/null 2>&1) || {
    log "apt-get source lwip failed"
    exit 1
  }
  tarball=$(ls "$work"/lwip_*.orig.tar.* | head -n 1)
fi
mkdir -p "$work/x"
tar -xf "$tarball" -C "$work/x"
src=$(cd "$(dirname "$(ls "$work"/x/*/src/core/tcp.c | head -n 1)")/../.." && pwd)
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -r "$src" "$dest.tmp"
mv "$dest.tmp" "$dest"
log "lwIP source in $dest"
