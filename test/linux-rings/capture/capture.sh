#!/bin/sh
# Re-captures the fixtures of test/linux-rings (see docs/linux-rings.md). Needs Debian 12's qemu-system-x86,
# linux-image-amd64 and busybox-static. Usage: capture.sh WORKDIR OUTDIR   (OUTDIR: where the fixtures go)
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
W=$1; OUT=$2
mkdir -p "$W" "$OUT"; cd "$W"
KVER=$(ls /lib/modules | head -1); K=/lib/modules/$KVER/kernel
# initramfs: busybox + the virtio modules of the installed kernel
rm -rf rootfs; mkdir -p rootfs/bin rootfs/proc rootfs/sys rootfs/dev rootfs/lib/modules
cp /bin/busybox rootfs/bin/; cp "$HERE/init.sh" rootfs/init; chmod +x rootfs/init
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev virtio/virtio_pci \
         net/net_failover net/virtio_net char/hw_random/virtio-rng char/virtio_console block/virtio_blk; do
  cp $K/drivers/$m.ko rootfs/lib/modules/
done
cp $K/net/core/failover.ko rootfs/lib/modules/
(cd rootfs && find . | cpio -o -H newc 2>/dev/null | gzip > ../initramfs.gz)
[ -f disk.img ] || dd if=/dev/urandom of=disk.img bs=1M count=4 2>/dev/null
sed "s/6.1.0-56-amd64/$KVER/g" "$HERE/run.sh" > run.sh; chmod +x run.sh
P=/machine/peripheral-anon/device; S="info virtio-queue-status"; E="info virtio-queue-element"
STATUS="$S $P[0]/virtio-backend 0|$S $P[0]/virtio-backend 1|$S $P[1]/virtio-backend 0|$S $P[2]/virtio-backend 0"
idle() { # idle NAME NET BLK RNG: boot, let the guest settle, stop, record, dump
  ./run.sh $1 "$2" "$3" "$4"; sleep 15

  python3 "$HERE/hmp.py" $1.sock stop "info virtio" "$S $P[0]/virtio-backend 0" "$S $P[0]/virtio-backend 1" \
    "$S $P[1]/virtio-backend 0" "$S $P[2]/virtio-backend 0" > $1-status.txt
}
# split, idle (blk without indirect descriptors, so its chains stay in the descriptor table)
idle split "" ",indirect_desc=off" ""
set --; for i in 0 1 2 3 4 5 9 100 255; do set -- "$@" "$E $P[0]/virtio-backend 0 $i"; done
for i in 0 3 7; do set -- "$@" "$E $P[0]/virtio-backend 1 $i"; done
for i in 5 6 7; do set -- "$@" "$E $P[1]/virtio-backend 0 $i"; done
for i in 0 1 2 3 4; do set -- "$@" "$E $P[2]/virtio-backend 0 $i"; done
python3 "$HERE/hmp.py" split.sock "$@" > split-elements.txt
python3 "$HERE/hmp.py" split.sock "pmemsave 0 0x10000000 \"$W/split.ram\"" "$E $P[0]/virtio-backend 0" "info virtio-status $P[0]/virtio-backend" > split-virtio-status.txt
sleep 2; kill $(cat split.pid)
# packed, idle
idle packed ",packed=on" ",packed=on,indirect_desc=off" ",packed=on"
python3 "$HERE/hmp.py" packed.sock "$E $P[0]/virtio-backend 0 3" "info virtio-status $P[0]/virtio-backend" > packed-elements.txt
python3 "$HERE/hmp.py" packed.sock "pmemsave 0 0x10000000 \"$W/packed.ram\""; sleep 2; kill $(cat packed.pid)
# in flight: the drive throttled to 1 request/s while the guest reads it; no stop (stopping drains the requests)
./run.sh split-inflight "" "" "" "rings.load" ",throttling.iops-total=1,throttling.iops-total-max=1"; sleep 20
python3 "$HERE/snap.py" split-inflight.sock "$W/split-inflight.ram" split-inflight; kill $(cat split-inflight.pid)
./run.sh packed-inflight ",packed=on" ",packed=on" ",packed=on" "rings.load" ",throttling.iops-total=1,throttling.iops-total-max=1"; sleep 20
python3 "$HERE/snap.py" packed-inflight.sock "$W/packed-inflight.ram" packed-inflight; kill $(cat packed-inflight.pid)
for r in split packed split-inflight packed-inflight; do
  python3 "$HERE/extract.py" $r ${r%%-*} $r-status.txt $r.ram "$OUT"; cp $r-status.txt "$OUT/"
done
cp split-elements.txt packed-elements.txt split-inflight-elements.txt packed-inflight-elements.txt "$OUT/"
python3 "$HERE/derive_expected.py" "$OUT"
