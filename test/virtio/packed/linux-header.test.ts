/**
 * Byte-exact against an independent reader: a C program compiled with gcc against the system's
 * <linux/virtio_ring.h> reads a ring image our driver and device wrote, through Linux's struct vring_packed_desc /
 * vring_packed_desc_event and VRING_PACKED_* macros, and must see the fields and AVAIL/USED bits we meant.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PACKED_DESC_F_AVAIL,
  PACKED_DESC_F_INDIRECT,
  PACKED_DESC_F_NEXT,
  PACKED_DESC_F_USED,
  PACKED_DESC_F_WRITE,
  PACKED_EVENT_FLAG_DESC,
  PACKED_EVENT_FLAG_DISABLE,
  PACKED_EVENT_FLAG_ENABLE,
  PACKED_EVENT_WRAP_BIT,
  VirtioFeature,
} from '../../../src/virtio/index.js';
import { DATA, pair } from './helpers.js';

const HEADER = '/usr/include/linux/virtio_ring.h';
const SOURCE = fileURLToPath(new URL('./fixtures/packed_view.c', import.meta.url));
const haveGcc = (() => {
  try {
    execFileSync(process.env['CC'] ?? 'gcc', ['--version'], { stdio: 'ignore' });
    return existsSync(HEADER);
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'tz-virtio-packed-view-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface View {
  sizes: number[];
  macros: number[];
  desc: { addr: string; len: number; id: number; flags: number; avail: number; used: number }[];
  driver: { off: number; wrap: number; flags: number };
  device: { off: number; wrap: number; flags: number };
}

describe.skipIf(!haveGcc)('packed ring read through linux/virtio_ring.h (gcc)', () => {
  it('sees our layout, flags, ids, lengths, wrap bits and event structures', () => {
    const bin = join(dir, 'packed_view');
    execFileSync(process.env['CC'] ?? 'gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', bin, SOURCE], { stdio: 'pipe' });

    const N = 5;
    const { mem, addrs, drv, dev, chain } = pair(N, [VirtioFeature.EVENT_IDX]);
    mem.addRegion({ name: 'high', base: 0x1_2345_0000, size: 0x1_0000 });
    // Lap 1: three single buffers, used and collected.
    for (let i = 0; i < 3; i++) drv.addBuffer(DATA + 0x100 * i, 16, false, i);
    drv.kick();
    while (dev.pop(chain)) dev.pushUsed(chain.head, 0);
    dev.publishUsed();
    while (drv.popUsed() !== undefined);
    // A chain across the end (slots 3, 4 in lap 1, slot 0 in lap 2; a buffer above 4 GiB) and a buffer at slot 1.
    const chainId = drv.add([{ addr: 0x1_2345_6780, len: 32 }], [{ addr: DATA + 0x400, len: 64 }, { addr: DATA + 0x500, len: 8 }], 7);
    const single = drv.addBuffer(DATA + 0x600, 4, true, 8);
    drv.kick();
    expect(dev.pop(chain)).toBe(true);
    expect(dev.pop(chain)).toBe(true);
    // Used out of order: the single buffer first (slot 3), then the chain (slot 4); the device's position wraps.
    dev.pushUsed(single, 4);
    dev.pushUsed(chainId, 70);
    dev.publishUsed();
    expect([drv.popUsed(), drv.popUsed()]).toEqual([8, 7]);
    // One more buffer at slot 2 of lap 2, used there with the device's wrap counter 0.
    const late = drv.addBuffer(DATA + 0x700, 2, true, 9);
    drv.kick();
    dev.pop(chain);
    dev.pushUsed(late, 2);
    dev.publishUsed();
    dev.enableNotifications();
    drv.enableCallbacks();
    writeFileSync(join(dir, 'ring.bin'), mem.bytes(addrs.desc, 16 * N + 8));
    const v = JSON.parse(execFileSync(bin, [join(dir, 'ring.bin'), String(N)], { encoding: 'utf8' })) as View;

    expect(v.sizes).toEqual([16, 8, 12, 14, 4, 2]);
    expect(v.macros).toEqual([
      PACKED_DESC_F_NEXT,
      PACKED_DESC_F_WRITE,
      PACKED_DESC_F_INDIRECT,
      Math.log2(PACKED_DESC_F_AVAIL),
      Math.log2(PACKED_DESC_F_USED),
      PACKED_EVENT_FLAG_ENABLE,
      PACKED_EVENT_FLAG_DISABLE,
      PACKED_EVENT_FLAG_DESC,
      PACKED_EVENT_WRAP_BIT,
      VirtioFeature.EVENT_IDX,
    ]);
    // Slots 3, 4: used in lap 1 (AVAIL = USED = 1), carrying the ids in completion order; addr left as written.
    expect(v.desc[3]).toEqual({ addr: '123456780', len: 4, id: single, flags: 0x8082, avail: 1, used: 1 });
    expect(v.desc[4]).toEqual({ addr: (DATA + 0x400).toString(16), len: 70, id: chainId, flags: 0x8082, avail: 1, used: 1 });
    // Slots 0, 1: available in lap 2 (AVAIL 0, USED 1), slot 0 the chain's tail.
    expect(v.desc[0]).toEqual({ addr: (DATA + 0x500).toString(16), len: 8, id: chainId, flags: 0x8002, avail: 0, used: 1 });
    expect(v.desc[1]).toEqual({ addr: (DATA + 0x600).toString(16), len: 4, id: single, flags: 0x8002, avail: 0, used: 1 });
    // Slot 2: used in lap 2 (AVAIL = USED = 0, WRITE set).
    expect(v.desc[2]).toEqual({ addr: (DATA + 0x700).toString(16), len: 2, id: late, flags: 0x0002, avail: 0, used: 0 });
    // Event structures: the device waits for slot 3 of lap 2, the driver for slot 2 of lap 2, both in DESC mode.
    expect(v.device).toEqual({ off: 3, wrap: 0, flags: PACKED_EVENT_FLAG_DESC });
    expect(v.driver).toEqual({ off: 2, wrap: 0, flags: PACKED_EVENT_FLAG_DESC });
  });
});
