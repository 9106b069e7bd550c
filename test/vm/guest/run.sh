#!/bin/bash
# Guest side of the VM tier (runs as root inside the QEMU guest, cwd = the checkout): brings the fake iPhone up on
# dummy_hcd, runs test/vm/guest/checks.ts, copies logs to $VUSB_OUT. Exit status = checks' status.
t() { echo "VUSB T[$(cut -d' ' -f1 /proc/uptime)] $*"; }
export UV_THREADPOOL_SIZE=16
mkdir -p /tmp/vphone /var/lib/lockdown
ls /sys/class/udc | head -1 > /tmp/vphone/udc
t "starting fake iPhone"
node --import tsx scripts/vusb/fake-iphone.ts 2> /tmp/fake-iphone.log &
FAKE=$!
for i in $(seq 1 600); do [ -e /tmp/vphone/ready ] && break; sleep 0.1; done
for i in $(seq 1 100); do grep -qs 05ac /sys/bus/usb/devices/*/idVendor && break; sleep 0.1; done
t "fake iPhone up: $(cat /tmp/vphone/ready 2>/dev/null)"; lsusb 2>/dev/null | grep -i apple
node --import tsx test/vm/guest/checks.ts
rc=$?
t "checks done rc=$rc"
kill -TERM $FAKE 2>/dev/null; sleep 1; kill -KILL $FAKE 2>/dev/null
cp /tmp/fake-iphone.log "$VUSB_OUT/" 2>/dev/null
exit $rc
