/**
 * The driver's pool layout: every payload (rx buffers and tx slots) starts on a 64-byte boundary, with the header in
 * the 44 bytes before it, whatever the split of header and payload (the copies in and out of shared memory stay
 * word-wise; see src/vsock/driver.ts).
 */
import { describe, expect, it } from 'vitest';
import type { VsockSocket } from '../../src/vsock/index.js';
import { makePair, pattern, run } from './helpers.js';

describe('vsock driver pool layout', () => {
  for (const splitHeader of [false, true]) {
    it(`payloads are 64-byte aligned in both directions (splitHeader ${splitHeader})`, async () => {
      const p = makePair({ driver: { splitHeader, txBufferSize: 3000, rxBufferSize: 1000 } });
      const offsets: number[] = [];
      const region = p.lb.memory.regions[0]!;
      const addr = (v: Uint8Array) => region.base + v.byteOffset;
      let server: VsockSocket | undefined;
      p.device.createServer((s) => {
        server = s;
        s.setZeroCopyReceive((v) => offsets.push(addr(v) % 64));
      }).listen(5);
      const c = p.driver.connect(5);
      c.setZeroCopyReceive((v) => offsets.push(addr(v) % 64));
      await run(p, () => server !== undefined && c.connected);
      c.write(pattern(1, 0, 10_000));
      server!.write(pattern(2, 0, 10_000));
      await run(p);
      // 10 000 bytes: 4 tx packets of ≤ 3000 one way, 10 rx packets of ≤ 1000 the other
      expect(offsets.length).toBe(14);
      expect(new Set(offsets)).toEqual(new Set([0]));
    });
  }
});
