#!/bin/sh
# Init (PID 1) of the QEMU guest in test/linux/qemu-vsock.test.ts: Debian's Linux 6.1 with busybox, its own virtio-pci
# and vsock drivers (modules copied from /lib/modules at test time) bound to QEMU's vhost-user-vsock-pci, whose
# back-end is our vsock device. Parameters from the kernel command line (they reach init as environment):
#   TZ_PORT   the secure echo's port on CID 2       TZ_SIZES  comma-separated sizes, one client per group "a:b:c"
#   TZ_LISTEN a guest port the host connects to (host-initiated connection; empty: none)
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
  insmod /lib/modules/$m.ko || echo "TZ error insmod $m"
done
echo "TZ guest up, virtio device ids: $(cat /sys/bus/virtio/devices/*/device 2>/dev/null | tr "\n" " ")"
if [ -n "$TZ_LISTEN" ]; then
  vsock-echo server "$TZ_LISTEN" &
  server=$!
fi
# concurrent clients: one per group of sizes, each with its own stream seed
seed=1
pids=
for group in $(echo "$TZ_SIZES" | tr ',' ' '); do
  vsock-echo client "$TZ_PORT" $seed $(echo "$group" | tr ':' ' ') &
  pids="$pids $!"
  seed=$((seed + 1))
done
for p in $pids; do wait $p || echo "TZ error client $p failed"; done
[ -n "$TZ_LISTEN" ] && wait $server
echo "TZ done"
poweroff -f
