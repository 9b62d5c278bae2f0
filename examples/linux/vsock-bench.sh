#!/bin/sh
# Guest init of `tz-virtio bench --only linux` (PID 1 in linux.uml, host filesystem as root): loads vsock, the virtio
# transport and vsock_loopback, then measures AF_VSOCK to CID 2 (our device over vhost-user) and to CID 1 (the
# in-kernel loopback) from the same Linux, alternating, and powers off. Environment from the kernel command line:
# TZ_MODDIR, TZ_BYTES, TZ_ROUNDS, TZ_REPEAT, GLIBC_TUNABLES.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null
here=$(dirname "$0")
for m in vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport vsock_loopback; do
  insmod "$TZ_MODDIR/kernel/net/vmw_vsock/$m.ko" || echo "BENCH {\"error\": \"insmod $m failed\"}"
done
/usr/bin/python3 "$here/vsock_bench.py" serve &
i=0
while [ $i -lt "${TZ_REPEAT:-1}" ]; do
  /usr/bin/python3 "$here/vsock_bench.py" run 2 device "$TZ_BYTES" "$TZ_ROUNDS"
  /usr/bin/python3 "$here/vsock_bench.py" run 1 loopback "$TZ_BYTES" "$TZ_ROUNDS"
  i=$((i+1))
done
echo "GUEST done"
sleep 0.3
echo o > /proc/sysrq-trigger 2>/dev/null; halt -f -p 2>/dev/null; poweroff -f
