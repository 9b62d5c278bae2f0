#!/bin/sh
# Init (PID 1, busybox) of the non-secure Linux in `tz-virtio run --nonsecure-linux --frontend qemu`: Debian's own
# Linux 6.1 in QEMU. Loads its virtio-pci, 9p and vsock drivers (the vsock device is the secure world's, over
# vhost-user), mounts the host's root read-only over 9p and runs the same ticker and signing client as the UML guest
# from there (chroot), logging on the serial console. Parameters come from the kernel command line as environment:
# TZ_DIR (examples/linux), TZ_PORT, TZ_MESSAGES, TZ_MARKER.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p \
         vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
  insmod /lib/modules/$m.ko || echo "TZ error insmod $m failed"
done
echo "TZ linux up $(cat /proc/uptime)"
mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host || echo "TZ error cannot mount the host root over 9p"
mount -t proc proc /host/proc
mount -t devtmpfs dev /host/dev
export TZ_CHANNEL=vsock TZ_LOG=stdout
chroot /host /usr/bin/python3 "$TZ_DIR/ticker.py" &
ticker=$!
sleep 0.5
chroot /host /usr/bin/python3 "$TZ_DIR/signer_client.py" || echo "TZ error the client failed"
kill $ticker 2>/dev/null
echo "TZ linux done"
poweroff -f
