/**
 * Images written by C programs compiled against the machine's <linux/virtio_ring.h> (vring_init, struct vring_desc,
 * struct vring_packed_desc, ...) decoded by inspect: an independent check that our reading of the rings matches
 * Linux's layout, including free-running indices across the u16 wrap, indirect tables and a packed chain across
 * the end of the ring.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packedReport, splitReport } from '../../../src/virtio/index.js';
import { runVringRef } from '../../conformance/build-c.js';
import { writePackedRefImage } from './build-packed-ref.js';

const dir = mkdtempSync(join(tmpdir(), 'tz-virtio-inspect-c-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface VringRefImage {
  base: string;
  size: number;
  num: number;
  align: number;
  desc: string;
  avail: string;
  used: string;
  chains: { head: number; indirect: boolean; segments: { addr: string; len: number; write: boolean }[] }[];
  availFlags: number;
  availIdx: number;
  usedEvent: number;
  usedFlags: number;
  usedIdx: number;
  availEvent: number;
  usedHistory: { slot: number; id: number; len: number }[];
}

describe('inspect decodes a split ring written by C (linux/virtio_ring.h vring_init)', () => {
  const file = join(dir, 'split.bin');
  const ref = runVringRef<VringRefImage>('image', file);
  const image = readFileSync(file);
  const base = Number(ref.base);

  for (const [name, opts] of [
    ['legacy layout from --align', { desc: Number(ref.desc), align: ref.align }],
    ['separate addresses', { desc: Number(ref.desc), avail: Number(ref.avail), used: Number(ref.used) }],
  ] as const) {
    it(`with ${name}`, () => {
      const r = splitReport(image, { queueSize: ref.num, base, ...opts });
      expect(r.areas.desc).toBe(ref.desc);
      expect(r.areas.avail).toBe(ref.avail);
      expect(r.areas.used).toBe(ref.used);
      expect(r.avail).toMatchObject({ flags: ref.availFlags, idx: ref.availIdx, usedEvent: ref.usedEvent });
      expect(r.used).toMatchObject({ flags: ref.usedFlags, idx: ref.usedIdx, availEvent: ref.availEvent });
      for (const h of ref.usedHistory) expect(r.used.ring[h.slot]).toEqual({ id: h.id, len: h.len });
      expect(r.outstanding).toEqual(ref.chains.map((c) => ({ head: c.head, indirect: c.indirect, segments: c.segments })));
      expect(r.errors).toEqual([]);
    });
  }
});

describe('inspect decodes a packed ring written by C (struct vring_packed_desc)', () => {
  it('descriptor flags, event areas and the available chains, including one across the ring end', () => {
    const file = join(dir, 'packed.bin');
    const ref = writePackedRefImage(file);
    expect([ref.descSize, ref.eventSize]).toEqual([16, 4]);
    const r = packedReport(readFileSync(file), {
      queueSize: ref.num,
      base: Number(ref.base),
      desc: Number(ref.desc),
      driverEvent: Number(ref.driverEvent),
      deviceEvent: Number(ref.deviceEvent),
    });
    expect(r.desc.map((d) => d.flags)).toEqual(ref.descFlags);
    expect(r.driverEvent).toEqual({ offWrap: ref.driverOffWrap, flags: ref.driverFlags, off: 2, wrap: 1, mode: 'DESC' });
    expect(r.deviceEvent).toMatchObject({ flags: ref.deviceFlags, mode: 'DISABLE' });
    expect(r.decoded.states.map((s) => `${s.state}${s.wrap}`)).toEqual(['available0', 'used1', 'available1', 'available1', 'available1', 'available1']);
    expect(r.decoded.chains).toEqual([
      { index: 2, wrap: 1, id: 2, indirect: false, ringDescs: 2, segments: [{ addr: '0x20002000', len: 16, write: false }, { addr: '0x20002100', len: 64, write: true }] },
      { index: 4, wrap: 1, id: 3, indirect: true, ringDescs: 1, segments: [{ addr: '0x20002200', len: 8, write: false }, { addr: '0x20002300', len: 128, write: true }] },
      { index: 5, wrap: 1, id: 4, indirect: false, ringDescs: 2, segments: [{ addr: '0x20002400', len: 4, write: false }, { addr: '0x20002500', len: 256, write: true }] },
    ]);
    expect(r.errors).toEqual([]);
  });
});
