#!/bin/sh
# run.sh NAME NETOPTS BLKOPTS RNGOPTS [APPEND [DRIVEOPTS]]: boots the guest with a monitor socket NAME.sock, serial NAME.serial
N=$1
rm -f $N.sock
qemu-system-x86_64 -M q35 -m 256 -nographic -display none -no-reboot \
  -kernel /boot/vmlinuz-6.1.0-56-amd64 -initrd initramfs.gz -append "console=ttyS0 quiet panic=-1 $5" \
  -serial file:$N.serial -monitor unix:$N.sock,server,nowait \
  -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,disable-legacy=on$2 \
  -device virtio-rng-pci,disable-legacy=on$4 \
  -drive file=disk.img,if=none,id=d0,format=raw$6 -device virtio-blk-pci,drive=d0,disable-legacy=on$3 &
echo $! > $N.pid
