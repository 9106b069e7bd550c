#!/bin/bash
# Guest side of the VM tier (runs as root inside the QEMU guest, cwd = the checkout): brings the fake iPhone up on
# dummy_hcd, runs test/vm/guest/checks.ts, copies logs to $VUSB_OUT. Exit status = checks' status.
t() { echo "VUSB T[$(cut -d' ' -f1 /proc/uptime)] $*"; }
export UV_THREADPOOL_SIZE=16
mkdir -p /tmp/vphone /var/lib/lockdown
ls /sys/class/udc | head -1 > /tmp/vphone/udc
if [ -n "$VUSB_UDEVD" ]; then
  # udevd: libusb's device list follows plugs and unplugs through it (Debian's 39-usbmuxd.rules then sets
  # configuration 0 on add, as on a desktop)
  mkdir -p /run/udev; "$VUSB_UDEVD" --daemon 2>/tmp/udevd.log && t "udevd started ($VUSB_UDEVD)" || t "udevd failed to start"
else
  t "no udevd: plug/unplug will not reach libusb"
fi
t "starting fake iPhone"
node --import tsx scripts/vusb/fake-iphone.ts 2> /tmp/fake-iphone.log &
FAKE=$!
for i in $(seq 1 600); do [ -e /tmp/vphone/ready ] && break; sleep 0.1; done
for i in $(seq 1 100); do grep -qs 05ac /sys/bus/usb/devices/*/idVendor && break; sleep 0.1; done
t "fake iPhone up: $(cat /tmp/vphone/ready 2>/dev/null)"; lsusb 2>/dev/null | grep -i apple
[ -n "$VUSB_UDEVD" ] && "$(dirname "$(readlink -f "$VUSB_UDEVD")")/udevadm" settle --timeout=30 2>/dev/null
t "udev settled; bConfigurationValue=$(cat /sys/bus/usb/devices/*/bConfigurationValue 2>/dev/null | tr '\n' ' ')"
node --import tsx test/vm/guest/checks.ts
rc=$?
t "checks done rc=$rc"
kill -TERM $FAKE 2>/dev/null; sleep 1; kill -KILL $FAKE 2>/dev/null
cp /tmp/fake-iphone.log /tmp/udevd.log "$VUSB_OUT/" 2>/dev/null
exit $rc
