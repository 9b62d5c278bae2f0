#!/usr/bin/env python3
"""Derives expected.json from the saved QEMU monitor transcripts and the pieces manifests: for every queue QEMU's own
indices (info virtio-queue-status) and, for split rings, every chain QEMU printed (info virtio-queue-element, whose
descriptor list is last-first: reversed here into driver order).

usage: derive_expected.py FIXTURES_DIR
"""
import json, re, sys, os

d = sys.argv[1]

def status(path):
    out = {}
    for block in re.split(r'\(qemu\) info virtio-queue-status ', open(path).read())[1:]:
        head = block.split('\n', 1)[0].split()
        f = lambda k: re.search(r'^\s*' + k + r':\s+(\S+)', block, re.M).group(1)
        out[(head[0], int(head[1]))] = {
            'inuse': int(f('inuse')), 'usedIdx': int(f('used_idx')), 'lastAvailIdx': int(f('last_avail_idx')),
            'shadowAvailIdx': int(f('shadow_avail_idx')), 'num': int(f('num')),
            'desc': hex(int(f('desc'), 16)), 'avail': hex(int(f('avail'), 16)), 'used': hex(int(f('used'), 16))}
    return out

def elements(path):
    out = []
    for block in re.split(r'\(qemu\) info virtio-queue-element ', open(path).read())[1:]:
        head = block.split('\n', 1)[0].split()
        descs = []
        for m in re.finditer(r'^\s+addr (0x[0-9a-f]+) len (\d+)(?: \(([a-z, ]+)\))?,?$', block, re.M):
            flags = [x.strip() for x in (m.group(3) or '').split(',') if x.strip()]
            descs.append({'addr': m.group(1), 'len': int(m.group(2)), 'write': 'write' in flags, 'next': 'next' in flags})
        g = lambda pat: int(re.search(pat, block, re.S).group(1))
        out.append({'path': head[0], 'queue': int(head[1]), 'position': int(head[2]),
                    'head': int(re.search(r'^\s*index:\s+(\d+)', block, re.M).group(1)),
                    'avail': {'flags': g(r'avail:\s+flags:\s+(\d+)'), 'idx': g(r'avail:.*?idx:\s+(\d+)'), 'ring': g(r'ring:\s+(\d+)')},
                    'used': {'flags': g(r'used:\s+flags:\s+(\d+)'), 'idx': g(r'used:.*?idx:\s+(\d+)')},
                    'descs': descs[::-1]})
    return out

def packed_expect(run, q, qs):
    """What the ring must hold, from QEMU's positions and what Linux 6.1 posts (QEMU 7.2 prints no packed element).

    QEMU 7.2 prints no wrap counter. The net and blk queues are in their first lap (wrap counter 1): the guest ran
    seconds and posted fewer than N buffers on them (the split runs' indices say so too), except the RX ring, which virtio_net fills once at probe until the ring is full (try_fill_recv: one buffer
    per descriptor, N of them, ids handed out 0..N-1 in slot order on the first lap) and refills only once more than
    half of it is free. QEMU has returned everything before used_idx and consumed everything before last_avail_idx;
    the inuse buffers between them are in flight: the device has read them but their slots still carry the driver's
    flags, so they read as available. Beyond last_avail_idx the slots up to the driver's position are available too:
    that position is N (the whole ring) for RX and last_avail_idx for the others (idle or blocked on the in-flight
    requests: nothing posted that QEMU has not taken). So available chains start in [used_idx, availableTo).
    The rng queue has 8 slots and is used dozens of times (71 in the split run), so its lap is unknown (wrap None):
    all that follows is that the slots before used_idx are used in one lap and the others in the lap before it.
    RX buffers (VIRTIO_NET_F_MRG_RXBUF negotiated) are single device-writable descriptors of at least 1536 bytes
    (GOOD_PACKET_LEN rounded up to the cache line; the last buffer of a page frag takes its leftover).
    virtio_blk requests with INDIRECT_DESC (the in-flight run) take one ring slot each, an indirect table of
    header (16 bytes, device-readable), data pages (device-writable for a read) and the status byte (writable, right
    after the header in the same allocation); inuse of them are in flight.
    """
    rx = q['name'] == 'net-rx'
    blk_inflight = q['name'] == 'blk0' and run == 'packed-inflight'
    n = qs['num']
    chain = None
    if rx:
        chain = {'kind': 'rx', 'descriptors': 1, 'write': True, 'minLen': 1536, 'idIsSlot': True}
    elif blk_inflight:
        chain = {'kind': 'blk-read', 'descriptors': 1, 'indirect': True, 'chains': qs['inuse']}
    return {'wrap': None if q['name'] == 'rng' else 1, 'usedBefore': qs['usedIdx'], 'inuse': qs['inuse'], 'consumedBefore': qs['lastAvailIdx'],
            'availableFrom': qs['usedIdx'] if blk_inflight else qs['lastAvailIdx'],
            'availableTo': n if rx else qs['lastAvailIdx'], 'chain': chain}

result = {}
for run in ('split', 'packed', 'split-inflight', 'packed-inflight'):
    pieces = json.load(open(os.path.join(d, f'{run}-pieces.json')))
    st = status(os.path.join(d, f'{run}-status.txt'))
    queues = []
    for q in pieces['queues']:
        qs = st[(q['path'], q['queue'])]
        entry = {**q, 'qemu': qs}
        if run.startswith('packed'):
            entry['expect'] = packed_expect(run, q, qs)
        queues.append(entry)
    result[run] = {'queues': queues}
    if run.startswith('split'):
        els = elements(os.path.join(d, f'{run}-elements.txt'))
        names = {(q['path'], q['queue']): q['name'] for q in queues}
        for e in els:
            e['name'] = names[(e['path'], e['queue'])]
        result[run]['elements'] = els
json.dump(result, open(os.path.join(d, 'expected.json'), 'w'), indent=1)
print('elements:', len(result['split']['elements']), len(result['split-inflight']['elements']))
