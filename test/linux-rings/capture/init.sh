#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net virtio-rng virtio_console virtio_blk; do
  f=$(find /lib/modules -name "$m.ko*" | head -1)
  [ -n "$f" ] && insmod $f && echo "loaded $m"
done
ip link set eth0 up 2>/dev/null
echo "GUEST READY"
ls /sys/bus/virtio/devices/
dd if=/dev/vda of=/dev/null bs=4096 count=4 2>/dev/null
head -c 64 /dev/hwrng | od -An -tx1 | head -1
if grep -q rings.load /proc/cmdline; then
  # keep virtio_blk busy (the drive is throttled by QEMU) so requests are in flight when the VM stops
  (while true; do echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=65536 2>/dev/null; done) &
  (while true; do dd if=/dev/vda of=/dev/null bs=4096 skip=512 count=64 2>/dev/null; done) &
  echo "GUEST LOADED"
fi
echo "GUEST IDLE"
while true; do sleep 1000; done
