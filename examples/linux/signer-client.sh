#!/bin/sh
# Init (PID 1) of the non-secure Linux in `tz-virtio run --nonsecure-linux` (user-mode Linux, host filesystem as root).
# Loads Linux's own virtio_console driver (its device is the secure world's, over vhost-user), starts the progress
# ticker, runs the signing client on /dev/hvc0 and powers off. Parameters come from the kernel command line as
# environment: TZ_MODDIR (UML modules), TZ_DIR (this folder), TZ_MESSAGES, TZ_MARKER (the ticker's page marker).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
# UML (with the xstate shim the host needs) does not keep AVX state across its context switches: keep glibc off it
export GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512BW,-AVX512VL,-AVX512DQ,-AVX512CD,-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-ERMS
export OPENSSL_ia32cap=:0
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
echo "TZ linux up $(cut -d' ' -f1 /proc/uptime)"
insmod "$TZ_MODDIR/kernel/drivers/char/virtio_console.ko" || echo "TZ error insmod virtio_console failed"
i=0
while [ ! -e /dev/hvc0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
[ -e /dev/hvc0 ] || echo "TZ error /dev/hvc0 did not appear"
stty -F /dev/hvc0 raw -echo
python3 "$TZ_DIR/ticker.py" &
ticker=$!
sleep 0.5  # Linux idles here: the ticker runs and the secure probes see it move
python3 "$TZ_DIR/signer_client.py" || echo "TZ error the client failed"
kill $ticker 2>/dev/null
echo "TZ linux done"
echo o > /proc/sysrq-trigger 2>/dev/null; halt -f -p 2>/dev/null; poweroff -f
