#!/bin/bash
# Boots Debian's stock kernel under QEMU (TCG) with this machine's / shared read-only over 9p (tmpfs overlay on top),
# loads dummy_hcd + libcomposite + usb_f_fs, and runs GUEST_SCRIPT inside the guest as root with cwd = the current
# directory. The guest's exit status becomes ours; 90+ are harness failures:
#   90 QEMU missing   91 kernel module missing   92 guest gave no exit status   93 kernel not downloadable
# Usage: [VUSB_WORK=dir] [VUSB_TIMEOUT=s] [VUSB_MEM=MiB] scripts/vusb/vusb-harness.sh GUEST_SCRIPT [ARGS...]
# The guest gets VUSB_UDEVD: a systemd-udevd to start (empty when none could be found).
# Artefacts: $VUSB_WORK/out (the guest sees it as /vusb-out); kernel + initramfs cached in $VUSB_WORK.
set -euo pipefail
WORK=$(readlink -m "${VUSB_WORK:-${TMPDIR:-/tmp}/iosdevice-vusb}")
TIMEOUT=${VUSB_TIMEOUT:-600}
MEM=${VUSB_MEM:-2048}
[ $# -ge 1 ] || { echo "usage: $0 GUEST_SCRIPT [ARGS...]" >&2; exit 2; }
GUEST_SCRIPT=$(readlink -f "$1"); shift
T0=$(date +%s%N)
log() { echo "[vusb $(( ($(date +%s%N) - T0) / 1000000 )) ms] $*" >&2; }
command -v qemu-system-x86_64 >/dev/null || { echo "vusb: qemu-system-x86_64 not installed" >&2; exit 90; }
[ -x /bin/busybox ] || { echo "vusb: busybox-static not installed" >&2; exit 90; }
mkdir -p "$WORK"
MODS="usb-common usbcore udc-core dummy_hcd configfs libcomposite usb_f_fs \
      virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p overlay"

# 1. Debian's kernel and the modules we need (once)
if [ ! -e "$WORK/kernel/vmlinuz" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  mkdir -p "$WORK/deb"
  deb=$(ls "$WORK"/deb/"$pkg"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    log "downloading $pkg"
    (cd "$WORK/deb" && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get download "$pkg" >/dev/null 2>&1; }; }) \
      || { echo "vusb: cannot download $pkg" >&2; exit 93; }
    deb=$(ls "$WORK"/deb/*.deb | head -1)
  fi
  X=$(mktemp -d "$WORK/x.XXXX")
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$X" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/usb/*' \
    './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/net/9p/*'
  mkdir -p "$WORK/kernel/mods"
  for m in $MODS; do
    f=$(find "$X/lib/modules" -name "$m.ko*" | head -1)
    [ -n "$f" ] || { echo "vusb: module $m not in $pkg" >&2; rm -rf "$X"; exit 91; }
    case $f in *.xz) xz -dc "$f" ;; *.zst) zstd -dc "$f" ;; *) cat "$f" ;; esac > "$WORK/kernel/mods/$m.ko"
  done
  cp "$X"/boot/vmlinuz-* "$WORK/kernel/vmlinuz"
  rm -rf "$X"
  log "kernel ready ($pkg)"
fi

# 1b. udevd for the guest: libusb (node `usb`, usbmuxd) hears of plugs and unplugs only through udevd's netlink group.
# The host's own if installed, else udevadm unpacked from Debian's udev package (no install on the host).
UDEVD=""
for f in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do [ -x "$f" ] && { UDEVD=$f; break; }; done
if [ -z "$UDEVD" ]; then
  if [ ! -x "$WORK/udev/systemd-udevd" ]; then
    mkdir -p "$WORK/deb-udev"
    udeb=$(ls "$WORK"/deb-udev/udev_*.deb 2>/dev/null | head -1 || true)
    if [ -z "$udeb" ]; then
      log "downloading udev (for udevd in the guest)"
      (cd "$WORK/deb-udev" && apt-get download udev >/dev/null 2>&1) || log "udev not downloadable: no hotplug in the guest"
      udeb=$(ls "$WORK"/deb-udev/udev_*.deb 2>/dev/null | head -1 || true)
    fi
    if [ -n "$udeb" ]; then
      U=$(mktemp -d "$WORK/u.XXXX"); dpkg-deb -x "$udeb" "$U"
      mkdir -p "$WORK/udev"; cp "$(find "$U" -name udevadm -type f -perm -u+x | head -1)" "$WORK/udev/udevadm"
      ln -sf udevadm "$WORK/udev/systemd-udevd"; rm -rf "$U"
    fi
  fi
  [ -x "$WORK/udev/systemd-udevd" ] && UDEVD="$WORK/udev/systemd-udevd"
fi

# 2. initramfs: busybox, modules, /init (mount host / read-only + tmpfs overlay, chroot, run /vusb-out/run.sh)
if [ ! -e "$WORK/initrd.gz" ]; then
  R=$(mktemp -d "$WORK/r.XXXX"); mkdir -p "$R"/{bin,proc,sys,dev,lower,upper,newroot,mods}
  cp /bin/busybox "$R/bin/busybox"; cp "$WORK"/kernel/mods/*.ko "$R/mods/"; echo $MODS > "$R/mods/order"
  cat > "$R/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m.ko || echo "VUSB: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /lower
mount -t tmpfs -o size=4g tmpfs /upper; mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot
mkdir -p /newroot/vusb-out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vusbout /newroot/vusb-out
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys; mount -t devtmpfs dev /newroot/dev
mount -t configfs none /newroot/sys/kernel/config; mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/dev/pts /newroot/dev/shm; mount -t devpts devpts /newroot/dev/pts; mount -t tmpfs tmpfs /newroot/dev/shm
ip link set lo up
echo "VUSB: guest ready at $(cut -d' ' -f1 /proc/uptime)s"
chroot /newroot /bin/sh -c "cd \"\$(cat /vusb-out/cwd)\" && exec /bin/bash /vusb-out/run.sh"
echo $? > /newroot/vusb-out/rc
sync
poweroff -f
INIT
  chmod +x "$R/init"
  (cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$WORK/initrd.gz"; rm -rf "$R"
fi

# 3. run
OUT="$WORK/out"; rm -rf "$OUT"; mkdir -p "$OUT"
pwd > "$OUT/cwd"
{
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root VUSB_OUT=/vusb-out VUSB_WORK='$WORK'"
  echo "export UV_THREADPOOL_SIZE=16 CI='${CI:-}'"
  echo "export VUSB_UDEVD='$UDEVD'"
  echo "mkdir -p /var/run /var/lib/lockdown"
  printf 'exec /bin/bash %q' "$GUEST_SCRIPT"; for a in "$@"; do printf ' %q' "$a"; done; echo
} > "$OUT/run.sh"
log "booting VM (timeout ${TIMEOUT}s)"
set +e
timeout --kill-after=5 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$(nproc)" -m "$MEM" \
  -nographic -no-reboot -nic none -kernel "$WORK/kernel/vmlinuz" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet" \
  -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
  -fsdev local,id=o,path="$OUT",security_model=none -device virtio-9p-pci,fsdev=o,mount_tag=vusbout \
  </dev/null 2>&1 | tr -d '\r' | sed -u -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e '/^$/d'
qrc=${PIPESTATUS[0]}
set -e
log "VM exited (qemu rc=$qrc)"
[ -f "$OUT/rc" ] && exit "$(cat "$OUT/rc")"
echo "vusb: guest produced no exit status (qemu rc=$qrc)" >&2
exit 92
