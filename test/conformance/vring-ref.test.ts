/**
 * Conformance against the Linux uapi header <linux/virtio_ring.h> compiled with gcc on this machine: structure
 * layout, vring_init/vring_size, vring_need_event, and decoding of a ring image the C program writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DescriptorChain,
  PhysicalMemory,
  SplitVirtqueueDevice,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_F_NO_NOTIFY,
  VirtioFeature,
  availEventOffset,
  features,
  splitLegacyLayout,
  splitRingSizes,
  usedEventOffset,
  vringNeedEvent,
  walkSplitChain,
} from '../../src/virtio/index.js';
import { buildVringRef, runVringRef } from './build-c.js';
import { scratchDir } from '../support/scratch.js';
import { execFileSync } from 'node:child_process';

interface LayoutJson {
  sizeof: Record<string, number>;
  offsetof: Record<string, number>;
  flags: Record<string, number>;
  layouts: { num: number; align: number; desc: number; avail: number; used: number; used_event: number; avail_event: number; size: number }[];
  need_event_values: number[];
  need_event: string;
}

interface ImageJson {
  base: string;
  size: number;
  num: number;
  align: number;
  desc: string;
  avail: string;
  used: string;
  startIdx: number;
  chains: { head: number; indirect: boolean; ringDescs: number; segments: { addr: string; len: number; write: boolean }[] }[];
  availFlags: number;
  availIdx: number;
  usedEvent: number;
  usedFlags: number;
  usedIdx: number;
  availEvent: number;
  usedHistory: { slot: number; id: number; len: number }[];
}

const ref = runVringRef<LayoutJson>('layout');

describe('split ring layout matches <linux/virtio_ring.h>', () => {
  it('structure sizes and field offsets', () => {
    expect(ref.sizeof).toEqual({ vring_desc: 16, vring_avail: 4, vring_used_elem: 8, vring_used: 4 });
    expect(ref.offsetof).toEqual({
      'vring_desc.addr': 0,
      'vring_desc.len': 8,
      'vring_desc.flags': 12,
      'vring_desc.next': 14,
      'vring_avail.flags': 0,
      'vring_avail.idx': 2,
      'vring_avail.ring': 4,
      'vring_used_elem.id': 0,
      'vring_used_elem.len': 4,
      'vring_used.flags': 0,
      'vring_used.idx': 2,
      'vring_used.ring': 4,
    });
  });

  it('flag values and feature bits', () => {
    expect(ref.flags).toEqual({
      NEXT: VRING_DESC_F_NEXT,
      WRITE: VRING_DESC_F_WRITE,
      INDIRECT: VRING_DESC_F_INDIRECT,
      USED_F_NO_NOTIFY: VRING_USED_F_NO_NOTIFY,
      AVAIL_F_NO_INTERRUPT: VRING_AVAIL_F_NO_INTERRUPT,
      F_INDIRECT_DESC: VirtioFeature.INDIRECT_DESC,
      F_EVENT_IDX: VirtioFeature.EVENT_IDX,
    });
  });

  it(`vring_init and vring_size for ${ref.layouts.length} (num, align) pairs`, () => {
    expect(ref.layouts.length).toBe(16 * 10);
    for (const l of ref.layouts) {
      const ours = splitLegacyLayout(0, l.num, l.align);
      const got = {
        desc: ours.desc,
        avail: ours.avail,
        used: ours.used,
        used_event: ours.avail + usedEventOffset(l.num),
        avail_event: ours.used + availEventOffset(l.num),
        size: ours.totalBytes,
      };
      const { num, align, ...want } = l;
      expect({ num, align, ...got }).toEqual({ num, align, ...want });
      // The separate-area sizes end exactly at the event fields.
      const s = splitRingSizes(l.num);
      expect(ours.avail + s.availBytes).toBe(l.used_event + 2);
      expect(ours.used + s.usedBytes).toBe(l.avail_event + 2);
    }
  });

  it('the same layout at a non-zero base address above 4 GiB', () => {
    const l = ref.layouts.find((x) => x.num === 256 && x.align === 4096)!;
    const base = 0x1_2345_0000;
    const ours = splitLegacyLayout(base, 256, 4096);
    expect([ours.desc - base, ours.avail - base, ours.used - base, ours.totalBytes]).toEqual([l.desc, l.avail, l.used, l.size]);
  });

  it('vring_need_event truth table', () => {
    const v = ref.need_event_values;
    let k = 0;
    let ones = 0;
    for (const e of v) {
      for (const n of v) {
        for (const o of v) {
          const want = ref.need_event[k++] === '1';
          if (want) ones++;
          if (vringNeedEvent(e, n, o) !== want) expect({ e, n, o, ours: vringNeedEvent(e, n, o) }).toEqual({ e, n, o, ours: want });
        }
      }
    }
    expect(k).toBe(v.length ** 3);
    expect(ones).toBeGreaterThan(0);
    expect(ones).toBeLessThan(k);
  });
});

describe('decoding a ring image written by C against <linux/virtio_ring.h>', () => {
  const dir = scratchDir('tz-virtio-image-');
  const file = join(dir, 'ring.bin');
  const want = JSON.parse(execFileSync(buildVringRef(), ['image', file], { encoding: 'utf8' })) as ImageJson;
  const bytes = readFileSync(file);
  const base = Number(want.base);

  function loadMemory(): PhysicalMemory {
    const mem = new PhysicalMemory([{ name: 'image', base, size: want.size }]);
    mem.write(base, bytes);
    return mem;
  }

  it('the image uses the legacy layout we compute', () => {
    const l = splitLegacyLayout(base, want.num, want.align);
    expect([l.desc, l.avail, l.used]).toEqual([Number(want.desc), Number(want.avail), Number(want.used)]);
  });

  it('SplitVirtqueueDevice pops every chain as the C program built it, across the u16 index wrap', () => {
    const mem = loadMemory();
    const l = splitLegacyLayout(base, want.num, want.align);
    const dev = new SplitVirtqueueDevice(mem, want.num, l, { features: features(VirtioFeature.INDIRECT_DESC, VirtioFeature.EVENT_IDX) });
    dev.setIndicesForTest(want.usedIdx);
    expect(dev.pending()).toBe(want.chains.length);
    const c = dev.newChain();
    const got = [];
    while (dev.pop(c)) got.push({ ...c.toJSON(), indirect: c.indirect, ringDescs: c.ringDescs });
    expect(got).toEqual(want.chains.map((ch) => ({ head: ch.head, indirect: ch.indirect, ringDescs: ch.ringDescs, segments: ch.segments })));
    expect(dev.lastAvailIdx).toBe(want.availIdx);
    expect(mem.read16(l.avail)).toBe(want.availFlags);
    expect(mem.read16(l.avail + usedEventOffset(want.num))).toBe(want.usedEvent);
    for (const h of want.usedHistory) {
      expect([mem.read32(l.used + 4 + 8 * h.slot), mem.read32(l.used + 8 + 8 * h.slot)]).toEqual([h.id, h.len]);
    }
  });

  it('walkSplitChain decodes the same chains without touching any state', () => {
    const mem = loadMemory();
    const c = new DescriptorChain(want.num);
    for (const ch of want.chains) {
      walkSplitChain(mem, Number(want.desc), want.num, ch.head, c, { indirect: true });
      expect({ ...c.toJSON(), indirect: c.indirect, ringDescs: c.ringDescs }).toEqual(ch);
    }
    expect(Buffer.compare(Buffer.from(mem.bytes(base, want.size)), bytes)).toBe(0);
  });

  it('without INDIRECT_DESC the first indirect chain is refused', () => {
    const mem = loadMemory();
    const c = new DescriptorChain(want.num);
    const ind = want.chains.find((ch) => ch.indirect)!;
    expect(() => walkSplitChain(mem, Number(want.desc), want.num, ind.head, c, { indirect: false })).toThrowError(
      expect.objectContaining({ code: 'VIRTIO_ERR_INDIRECT_NOT_NEGOTIATED' }),
    );
  });
});
