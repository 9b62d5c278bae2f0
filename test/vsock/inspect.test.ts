import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packedRingSizes } from '../../src/virtio/index.js';
import { runInspect } from '../../src/cli/commands/inspect.js';
import type { VsockRingReport } from '../../src/vsock/inspect.js';
import type { VsockSocket } from '../../src/vsock/index.js';
import { makePair, run, type Pair } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tz-virtio-vsock-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dump(p: Pair, name: string): { file: string; base: number } {
  const r = p.lb.memory.regions[0]!;
  const file = join(dir, name);
  writeFileSync(file, r.u8);
  return { file, base: r.base };
}

/** Ring addresses as the loopback transport plans them: one ring after the other from its base, 4 KiB aligned. */
function queueArgs(p: Pair, q: number): Record<string, string> {
  const vq = (p.driver as unknown as Record<string, { vq: { addrs?: Record<string, number>; size: number } }>)[['rxq', 'txq', 'evq'][q]!]!.vq;
  if (!p.lb.packed) {
    const a = vq.addrs!;
    return { layout: 'split', queueSize: String(vq.size), desc: String(a['desc']), avail: String(a['avail']), used: String(a['used']) };
  }
  const { descBytes } = packedRingSizes(vq.size);
  const desc = p.lb.memory.regions[0]!.base + q * Math.ceil((descBytes + 8) / 4096) * 4096;
  return { layout: 'packed', queueSize: String(vq.size), desc: String(desc), driverEvent: String(desc + descBytes), deviceEvent: String(desc + descBytes + 4) };
}

for (const packed of [false, true]) {
  describe(`inspect --vsock on ${packed ? 'packed' : 'split'} rings dumped from a live pair`, () => {
    it('tx: a REQUEST the device has not taken yet is decoded as pending', async () => {
      const p = makePair({ packed });
      p.driver.connect(1234);
      await new Promise((r) => setImmediate(r));
      const { file, base } = dump(p, `tx-${packed}.bin`);
      const out = JSON.parse(await runInspect(file, { ...queueArgs(p, 1), base: String(base), json: true, vsock: 'tx' })) as VsockRingReport;
      expect(out.packets).toHaveLength(1);
      expect(out.packets[0]).toMatchObject({ state: 'pending', header: { opName: 'REQUEST', typeName: 'STREAM', srcCid: 3, srcPort: 1024, dstCid: 2, dstPort: 1234, len: 0, bufAlloc: 262144 } });
      const text = await runInspect(file, { ...queueArgs(p, 1), base: String(base), vsock: 'tx' });
      expect(text).toContain('REQUEST STREAM 3:1024 -> 2:1234 len 0');
    });

    it('rx: the RESPONSE and the data the device wrote are decoded from the used entries', async () => {
      const p = makePair({ packed });
      let server: VsockSocket | undefined;
      p.device.createServer((s) => (server = s)).listen(1234);
      const c = p.driver.connect(1234);
      c.resume();
      await run(p);
      server!.write('hello from the secure side');
      p.device.poll(); // the device writes; the driver has not taken the buffer back yet
      const { file, base } = dump(p, `rx-${packed}.bin`);
      const out = JSON.parse(await runInspect(file, { ...queueArgs(p, 0), base: String(base), json: true, vsock: 'rx' })) as VsockRingReport;
      const used = out.packets.filter((x) => x.state === 'used');
      // split keeps the RESPONSE in the used ring; packed reused its slot when the driver re-posted the buffer
      expect(used.map((x) => x.header?.opName)).toEqual(packed ? ['RW'] : ['RESPONSE', 'RW']);
      expect(used.at(-1)!.text).toBe('hello from the secure side');
      expect(out.packets.filter((x) => x.state === 'posted').length).toBeGreaterThan(0);
      expect(await runInspect(file, { ...queueArgs(p, 0), base: String(base), vsock: 'rx' })).toMatch(/RW STREAM 2:1234 -> 3:1024 len 26[^\n]*\n\s+hex 68656c6c6f/);
    });

    it('event: TRANSPORT_RESET is decoded; a bad queue name is one typed error', async () => {
      const p = makePair({ packed });
      p.device.transportReset();
      await run(p);
      const { file, base } = dump(p, `ev-${packed}.bin`);
      const out = JSON.parse(await runInspect(file, { ...queueArgs(p, 2), base: String(base), json: true, vsock: 'event' })) as VsockRingReport;
      expect(out.packets.filter((x) => x.state === 'used').map((x) => x.event)).toEqual([{ id: 0, name: 'TRANSPORT_RESET' }]);
      await expect(runInspect(file, { ...queueArgs(p, 2), base: String(base), vsock: 'nope' })).rejects.toMatchObject({ code: 'VSOCK_ERR_IMAGE' });
    });
  });
}
