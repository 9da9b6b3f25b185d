#!/usr/bin/env bash
# Prepares the nested-KVM guest that scripts/test.sh boots where this machine
# has no /dev/kvm of its own: QEMU (software emulation of an x86 CPU with AMD
# SVM and nested paging), a Debian kernel with its KVM modules, and a small
# initramfs (busybox, the modules, init). Everything goes to $SURE_NESTED_DIR
# (default /var/cache/sure-nested-kvm) and is made once. Needs root for apt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${SURE_NESTED_DIR:-/var/cache/sure-nested-kvm}
log() { printf '[nested-kvm] %s\n' "$*" >&2; }

# Made once per version of these files (a fresh clone has new mtimes, not new contents).
stamp=$(cat "$here/setup.sh" "$here/init" "$here/hold.c" | sha256sum | cut -d' ' -f1)
[ "$(cat "$dir/ready" 2>/dev/null)" = "$stamp" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  log "needs root to install qemu-system-x86 and a kernel"
  exit 1
fi
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q static || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v file >/dev/null || need+=(file)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$dir"
cd "$dir"
# The kernel Debian ships now (the linux-image-amd64 metapackage names it).
kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' |
  head -n 1)
if [ -z "$kpkg" ]; then
  apt-get update -qq >/dev/null
  kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' |
    head -n 1)
fi
kver=${kpkg#linux-image-}
if [ ! -f "kernel-$kver/boot/vmlinuz-$kver" ]; then
  log "fetching $kpkg"
  rm -f "$kpkg"_*.deb
  apt-get download "$kpkg" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download "$kpkg"; }
  rm -rf "kernel-$kver" && dpkg-deb -x "$kpkg"_*.deb "kernel-$kver" && rm -f "$kpkg"_*.deb
fi
log "building the initramfs for $kver"
rm -rf initfs && mkdir -p initfs/{bin,proc,sys,dev,mods,host}
cp /bin/busybox initfs/bin/busybox
cp "$here/init" initfs/init
mods=kernel-$kver/lib/modules/$kver/kernel
# In load order: KVM (AMD: QEMU's software CPU emulates SVM, not VMX), virtio 9p,
# veth, netem (the fleet's lossy-link test), socket diagnostics (`ss -K`, which
# the leaf-link test cuts connections with), and overlayfs and autofs for a guest
# that boots systemd (run.sh --systemd).
order="irqbypass kvm ccp kvm-amd virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
  virtio_pci netfs fscache 9pnet 9pnet_virtio 9p veth sch_netem inet_diag tcp_diag overlay autofs4"
for m in $order; do
  f=$(find "$mods" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
  [ -n "$f" ] || { log "module $m not found in $kpkg"; exit 1; }
  case $f in *.xz) xz -dc "$f" >"initfs/mods/$m.ko" ;; *) cp "$f" initfs/mods/ ;; esac
done
echo $order >initfs/mods/order
gcc -O2 -static -Wall -Wextra -Werror -o initfs/bin/hold "$here/hold.c"
(cd initfs && find . | cpio -o -H newc 2>/dev/null | gzip -1 >../initrd.gz)
ln -sfn "kernel-$kver/boot/vmlinuz-$kver" vmlinuz
echo "$stamp" >ready
log "ready in $dir"
