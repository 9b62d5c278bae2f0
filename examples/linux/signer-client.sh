#!/bin/sh
# Init (PID 1) of the non-secure Linux in `tz-virtio run --nonsecure-linux` (user-mode Linux, host filesystem as root).
# Loads Linux's own drivers for the secure world's devices (over vhost-user): virtio_console (/dev/hvc0) and, on the
# vsock channel, vsock + vmw_vsock_virtio_transport(_common). Starts the progress ticker, runs the signing client
# (AF_VSOCK to CID 2, or lines on /dev/hvc0) and powers off. Parameters come from the kernel command line as
# environment: TZ_MODDIR (UML modules), TZ_DIR (this folder), TZ_CHANNEL (vsock|console), TZ_PORT, TZ_MESSAGES,
# TZ_MARKER (the ticker's page marker), TZ_PRELUDE (optional: a Python program run before the client).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
# UML (with the xstate shim the host needs) does not keep AVX state across its context switches: keep glibc off it
export GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512BW,-AVX512VL,-AVX512DQ,-AVX512CD,-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-ERMS
export OPENSSL_ia32cap=:0
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
echo "TZ linux up $(cut -d' ' -f1 /proc/uptime)"
insmod "$TZ_MODDIR/kernel/drivers/char/virtio_console.ko" || echo "TZ error insmod virtio_console failed"
if [ "$TZ_CHANNEL" = vsock ]; then
  for m in vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
    insmod "$TZ_MODDIR/kernel/net/vmw_vsock/$m.ko" || echo "TZ error insmod $m failed"
  done
fi
i=0
while [ ! -e /dev/hvc0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
[ -e /dev/hvc0 ] || echo "TZ error /dev/hvc0 did not appear"
stty -F /dev/hvc0 raw -echo
python3 "$TZ_DIR/ticker.py" &
ticker=$!
sleep 0.5  # Linux idles here: the ticker runs and the secure probes see it move
[ -n "$TZ_PRELUDE" ] && { python3 "$TZ_PRELUDE" || echo "TZ error the prelude $TZ_PRELUDE failed"; }
python3 "$TZ_DIR/signer_client.py" || echo "TZ error the client failed"
kill $ticker 2>/dev/null
echo "TZ linux done"
echo o > /proc/sysrq-trigger 2>/dev/null; halt -f -p 2>/dev/null; poweroff -f
