#!/bin/bash
# first-boot probe: fake iPhone up, lsusb, our host end over `usb` 2.x does VERSION + lockdown QueryType
set -x
t() { echo "T[$(cut -d' ' -f1 /proc/uptime)] $*"; }
t start
node --import tsx scripts/vusb/fake-iphone.ts --verbose 2>/tmp/fake.log &
for i in $(seq 1 300); do [ -e /tmp/vphone/ready ] && break; sleep 0.1; done
t "ready: $(cat /tmp/vphone/ready)"
sleep 1
lsusb; cat /sys/bus/usb/devices/1-1/bConfigurationValue
node --import tsx test/vm/guest/probe.ts
echo "probe rc=$?"
cat /tmp/fake.log | tail -30
cp /tmp/fake.log $VUSB_OUT/
