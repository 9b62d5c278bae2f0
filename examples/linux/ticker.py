# A progress counter of the non-secure Linux that the secure world reads from Linux's RAM (see
# src/hypervisor/linux/guest-counter.ts): one page of this process holds NOT(marker) then a u64 counter.
# Runs at the lowest priority, so it only uses the time Linux would otherwise idle.
import mmap, os, struct

os.nice(19)
marker = os.environ['TZ_MARKER']
page = mmap.mmap(-1, 4096)
for i in range(16):
    page[i] = int(marker[2 * i:2 * i + 2], 16) ^ 0xFF  # byte by byte: no object in memory holds the marker's NOT
print('TZ ticker ready', flush=True)
n = 0
while True:
    n += 1
    struct.pack_into('<Q', page, 16, n)
