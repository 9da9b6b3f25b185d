#!/usr/bin/env bash
# Runs a command inside a nested-KVM guest: QEMU emulates an x86 CPU with AMD
# SVM in software (TCG), a Debian kernel runs KVM on it, and the command runs
# there with /dev/kvm, chrooted into this machine's / (read-only) with WORKDIR
# mounted read-write at the same path, a fresh /tmp and loopback. It is slow
# (its VMs start 50-100x slower than on hardware KVM) but it is real
# KVM: the tests that need VMs run instead of skipping on machines without
# /dev/kvm. scripts/nested-kvm/setup.sh prepares it.
#
#   scripts/nested-kvm/run.sh [--systemd] WORKDIR COMMAND [ARG...]
#
# --systemd boots systemd as PID 1 (on a writable overlay of this machine's /)
# and runs the command as a unit of it, for tests of sure as a service.
#
# Prints the command's output; exits with its exit code (125: the guest did
# not run it). SURE_NESTED_MEM (MiB, default 6144), SURE_NESTED_TIMEOUT (s,
# default 3600), SURE_NESTED_START_TIMEOUT (s, default 300: a guest that has
# not started the command by then is booted once more).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${SURE_NESTED_DIR:-/var/cache/sure-nested-kvm}
boot_args=
if [ "${1:-}" = --systemd ]; then
  boot_args=" sure.systemd=1"
  shift
fi
work=$(cd "$1" && pwd)
shift
[ -f "$dir/ready" ] || { echo "nested-kvm: run $here/setup.sh first" >&2; exit 125; }

state=$work/.sure-nested
mkdir -p "$state"
{
  echo "cd $(printf %q "$work") || exit 125"
  echo ": >$(printf %q "$state/started")"
  echo "export HOME=/tmp/home PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  # Environment the command should see (CI, the test switches), not the host's whole one.
  for v in CI SURE_FUZZ_SECONDS SURE_REQUIRE_KVM SURE_REQUEST_LOG; do
    [ -n "${!v:-}" ] && echo "export $v=$(printf %q "${!v}")"
  done
  echo "mkdir -p \$HOME"
  echo "ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up"
  printf '%q ' "$@"
  echo
  echo "echo \$? > $(printf %q "$state/rc")"
} >"$state/cmd.sh"

# One boot. A guest that has not started the command within
# SURE_NESTED_START_TIMEOUT seconds (default 300; it takes ~5 s) hung while
# booting and is stopped, so that the caller can boot again instead of losing
# the whole SURE_NESTED_TIMEOUT to it.
boot() {
  rm -f "$state/rc" "$state/started" "$state/qemu.pid"
  timeout "${SURE_NESTED_TIMEOUT:-3600}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max \
    -smp "$(nproc)" -m "${SURE_NESTED_MEM:-6144}" -nographic -no-reboot \
    -pidfile "$state/qemu.pid" \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.gz" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$work,mount_tag=work,security_model=none,multidevs=remap" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 maxcpus=1 sure.work=$work$boot_args" </dev/null |
    sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\r$//' &
  local run=$! waited=0
  while kill -0 "$run" 2>/dev/null && [ ! -e "$state/started" ]; do
    if ((waited >= ${SURE_NESTED_START_TIMEOUT:-300})); then
      echo "nested-kvm: the guest did not start the command within ${waited} s; stopping it"
      kill "$(cat "$state/qemu.pid" 2>/dev/null)" 2>/dev/null
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  wait "$run"
  [ -e "$state/started" ]
}

boot || { echo "nested-kvm: booting once more" && boot; }
rc=$(cat "$state/rc" 2>/dev/null || echo 125)
exit "$rc"
