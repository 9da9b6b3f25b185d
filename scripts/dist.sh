#!/usr/bin/env bash
# npm run dist: dist/sure-linux-x86_64, one file that holds what a node needs:
# the Deno runtime, the app (main.ts, runtime/, ffi/, the example functions
# and chains, the npm packages it imports), libsure.so and the guest SDK
# (libsg.a with its objects, headers, linker script, Makefile). deno compile
# would need its denort base binary, which these machines cannot download,
# so the file is a small sh launcher followed by a tar.gz: the first run
# unpacks it once into a content-addressed cache
# (${XDG_CACHE_HOME:-$HOME/.cache}/sure/<sha256 prefix>), every run then
# starts deno there. It needs only sh, tar, gzip, awk and tail (every Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
out=dist/sure-linux-x86_64
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
app=$stage/app
mkdir -p "$app/libsure/build" "$app/node_modules"
# The app as the checkout has it, without built images or local state.
tar -cf - --exclude='*/build' main.ts deno.json package.json runtime ffi functions chains |
  tar -xf - -C "$app"
# The npm packages it imports: everything but deno itself and type packages.
for p in node_modules/* node_modules/.deno; do
  [ -e "$p" ] || continue
  case "${p#node_modules/}" in deno | @deno | .bin | @types | typescript) continue ;; esac
  cp -a "$p" "$app/node_modules/"
done
# libsure: the library, and the guest SDK with its objects (so that `make
# guest` has nothing to redo) and everything its Makefile reads.
tar -cf - --exclude=build --exclude=tests libsure | tar -xf - -C "$app"
cp -a libsure/build/libsure.so "$app/libsure/build/"
cp -a libsure/build/guest "$app/libsure/build/guest"
cp -a "$(readlink -f node_modules/.bin/deno)" "$stage/deno"
tar -C "$stage" -czf "$stage/payload.tgz" app deno
sum=$(sha256sum "$stage/payload.tgz" | cut -c1-16)
mkdir -p dist
sed "s/@SUM@/$sum/" scripts/dist_launcher.sh >"$out.tmp"
cat "$stage/payload.tgz" >>"$out.tmp"
chmod 755 "$out.tmp"
mv "$out.tmp" "$out"
echo "$out: $(($(stat -c %s "$out") / 1048576)) MiB, payload $sum" >&2
