#!/usr/bin/env python3
"""Cuts the ring areas of every queue listed in a saved `info virtio-queue-status` transcript out of a guest RAM dump
(pmemsave 0 SIZE: file offset = physical address on q35 with 256 MiB) into small piece files, plus the indirect
descriptor tables that the ring's INDIRECT descriptors point to (overlapping tables merged), and writes
RUN-pieces.json: for each queue its QEMU path, index, size, areas and the piece files with their physical addresses.

usage: extract.py RUN LAYOUT STATUS.txt RAM.bin OUTDIR     (LAYOUT: split | packed)
"""
import json, re, sys, os

run, layout, status_path, ram_path, outdir = sys.argv[1:6]
text = open(status_path).read()
ram = open(ram_path, 'rb')
queues = []
for block in re.split(r'\(qemu\) info virtio-queue-status ', text)[1:]:
    head = block.split('\n', 1)[0].split()
    path, q = head[0], int(head[1])
    field = lambda k: re.search(r'^\s*' + k + r':\s+(\S+)', block, re.M).group(1)
    num = int(field('num'))
    desc, avail, used = (int(field(k), 16) for k in ('desc', 'avail', 'used'))
    name = {'virtio-net': ['net-rx', 'net-tx', 'net-ctrl'][q], 'virtio-rng': 'rng', 'virtio-blk': f'blk{q}'}[field('device_name')]
    if layout == 'split':
        # desc table, avail ring (flags, idx, ring[N], used_event), used ring (flags, idx, ring[N], avail_event)
        spans = [('rings', desc, used + 4 + 8 * num + 2)] if desc < avail < used and used - desc < 65536 else [
            ('desc', desc, desc + 16 * num), ('avail', avail, avail + 6 + 2 * num), ('used', used, used + 6 + 8 * num)]
    else:
        # packed: descriptor ring, driver event suppression area (QEMU's "avail"), device area (QEMU's "used")
        spans = [('desc', desc, desc + 16 * num), ('driver-event', avail, avail + 4), ('device-event', used, used + 4)]
    # Indirect tables (VIRTQ_DESC_F_INDIRECT = 4; flags at +12 in a split descriptor, +14 in a packed one).
    ram.seek(desc)
    table = ram.read(16 * num)
    tables = []
    for i in range(num):
        e = table[16 * i:16 * i + 16]
        addr, ln = int.from_bytes(e[0:8], 'little'), int.from_bytes(e[8:12], 'little')
        flags = int.from_bytes(e[12:14] if layout == 'split' else e[14:16], 'little')
        if flags & 4 and 0 < ln <= 4096 and ln % 16 == 0 and addr + ln <= os.path.getsize(ram_path):
            tables.append([addr // 8 * 8, (addr + ln + 7) // 8 * 8])
    merged = []
    for a, b in sorted(tables):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    spans += [(f'indirect-{hex(a)}', a, b) for a, b in merged]
    pieces = []
    for what, start, end in spans:
        end = (end + 7) // 8 * 8  # whole 8-byte words: pieces are mapped at 8-aligned addresses
        ram.seek(start)
        data = ram.read(end - start)
        fname = f'{run}-{name}-{what}.bin'
        open(os.path.join(outdir, fname), 'wb').write(data)
        pieces.append({'file': fname, 'addr': hex(start), 'size': len(data)})
    queues.append({'name': name, 'device': field('device_name'), 'path': path, 'queue': q, 'layout': layout,
                   'size': num, 'areas': {'desc': hex(desc), 'avail': hex(avail), 'used': hex(used)}, 'pieces': pieces})
json.dump({'run': run, 'queues': queues}, open(os.path.join(outdir, f'{run}-pieces.json'), 'w'), indent=2)
print(f'{run}: {len(queues)} queues, {sum(p["size"] for q in queues for p in q["pieces"])} bytes')
