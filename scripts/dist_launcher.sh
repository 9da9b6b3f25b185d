#!/bin/sh
# sure, one file (scripts/dist.sh made it): a launcher, then a tar.gz of the
# Deno runtime, the app and libsure. The first run unpacks it once into a
# content-addressed cache; every run starts the node or the CLI from there.
set -e
sum=@SUM@
base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
[ -n "$base" ] || base=/tmp/sure-cache-$(id -u)
dir=$base/sure/$sum
if [ ! -x "$dir/deno" ]; then
  mkdir -p "$base/sure"
  tmp=$(mktemp -d "$base/sure/.unpack.XXXXXX")
  line=$(awk '/^__SURE_PAYLOAD__$/ { print NR + 1; exit }' "$0")
  if ! tail -n +"$line" "$0" | tar -xzf - -C "$tmp"; then
    rm -rf "$tmp"
    echo "sure: cannot unpack $0 into $base/sure (disk full, or not writable?)" >&2
    exit 1
  fi
  # Another run may have unpacked it meanwhile: theirs stays.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
export DENO_DIR="$dir/deno-dir" DENO_NO_UPDATE_CHECK=1 SURE_LIBSURE="$dir/app/libsure/build/libsure.so"
exec "$dir/deno" run -A --quiet --no-lock --config "$dir/app/deno.json" "$dir/app/main.ts" "$@"
__SURE_PAYLOAD__
