/**
 * The addon's copyBytes (native/shm.cc) and its installation (src/host/native-copy.ts): bounds checked in C with a
 * typed error, the same bytes as TypedArray.set on random ranges (overlap included), loading in worker_threads and in
 * a child process, TZ_VIRTIO_NO_NATIVE_COPY, and the devices' payloads over it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { loadNative } from '../../src/host/native.js';
import { nativeCopyBytes, nativeCopyStatus, NO_NATIVE_COPY_ENV, type NativeCopyFn } from '../../src/host/native-copy.js';
import { copyBytes, copyBytesImplementation, installCopyBytes, NATIVE_COPY_MIN_BYTES } from '../../src/virtio/copy.js';
import { runNodeModule } from './helpers.js';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { RpmsgDevice } from '../../src/rpmsg/device.js';
import { RpmsgDriver } from '../../src/rpmsg/driver.js';
import { checkPayload, makePayload } from '../rpmsg/helpers.js';
import { makePair as makeVsockPair, pattern, run as runVsock } from '../vsock/helpers.js';
import { collect, drive, known, wire } from '../console/helpers.js';

const native = (): NativeCopyFn => {
  const fn = nativeCopyBytes();
  if (fn === undefined) throw new Error(`the native copy is not available: ${nativeCopyStatus().reason}`);
  return fn;
};

function filled(buffer: ArrayBufferLike, seed: number): Uint8Array {
  const u8 = new Uint8Array(buffer);
  for (let i = 0; i < u8.length; i++) u8[i] = (seed + i * 13 + (i >>> 7)) & 0xff;
  return u8;
}

function thrown(f: () => void): { name?: string; code?: string } | undefined {
  try {
    f();
  } catch (e) {
    return e as { name?: string; code?: string };
  }
  return undefined;
}

describe('native copyBytes', () => {
  it('is there in the built addon (ABI 4) and not disabled', () => {
    expect(loadNative().abiVersion).toBeGreaterThanOrEqual(4);
    expect(nativeCopyStatus()).toEqual({ available: true, reason: 'native' });
  });

  it('a range past either end is a RangeError ERR_TZ_COPY_OUT_OF_RANGE and copies nothing', () => {
    const copy = native();
    const sab = new SharedArrayBuffer(64);
    const src = filled(sab, 1).subarray(8, 40); // 32 bytes at byte offset 8 of its buffer
    const dst = new Uint8Array(16);
    for (const [dOff, sOff, n] of [
      [0, 0, 17], // past dst
      [1, 0, 16], // past dst by one
      [0, 17, 16], // past src
      [0, 32, 1], // src offset at the end, one byte
      [0, 33, 0], // offset past the end, empty
      [17, 0, 0],
      [0, 0, 2 ** 40], // no wrap-around of offset + length
      [2 ** 52, 0, 1],
    ] as const) {
      const e = thrown(() => copy(dst, dOff, src, sOff, n));
      expect(e?.name, `${dOff},${sOff},${n}`).toBe('RangeError');
      expect(e?.code).toBe('ERR_TZ_COPY_OUT_OF_RANGE');
    }
    expect(dst.every((b) => b === 0)).toBe(true);
    // the view's own bounds, not its buffer's: bytes 40..63 of the buffer are not src's
    expect(thrown(() => copy(dst, 0, src, 24, 16))?.code).toBe('ERR_TZ_COPY_OUT_OF_RANGE');
    copy(dst, 0, src, 16, 16);
    expect(Array.from(dst)).toEqual(Array.from(src.subarray(16, 32)));
    copy(dst, 16, src, 32, 0); // empty, at both ends
  });

  it('wrong argument types are TypeErrors, never a crash', () => {
    const copy = loadNative().copyBytes! as (...a: unknown[]) => void;
    const u8 = new Uint8Array(8);
    for (const args of [
      [],
      [u8, 0, u8, 0],
      [new ArrayBuffer(8), 0, u8, 0, 1],
      [u8, 0, 'abc', 0, 1],
      [u8, -1, u8, 0, 1],
      [u8, 0, u8, 0.5, 1],
      [u8, 0, u8, 0, NaN],
      [u8, 0, u8, 0, Infinity],
      [u8, 0, u8, 0, 2 ** 53],
      [u8, '0', u8, 0, 1],
    ]) {
      expect(thrown(() => copy(...args))?.name, JSON.stringify(args.map((a) => typeof a))).toBe('TypeError');
    }
  });

  it('a detached buffer has no bytes: any non-empty copy is out of range', () => {
    const copy = native();
    const ab = new ArrayBuffer(64);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] });
    expect(view.length).toBe(0);
    expect(thrown(() => copy(view, 0, new Uint8Array(8), 0, 8))?.code).toBe('ERR_TZ_COPY_OUT_OF_RANGE');
    copy(view, 0, new Uint8Array(8), 0, 0);
  });

  it('other typed arrays and DataViews are copied by their bytes', () => {
    const copy = native() as unknown as (d: ArrayBufferView, dO: number, s: ArrayBufferView, sO: number, n: number) => void;
    const src = new Uint32Array([0x04030201, 0x08070605]);
    const dst = new DataView(new ArrayBuffer(10), 1);
    copy(dst, 1, src, 2, 6);
    expect(Array.from(new Uint8Array(dst.buffer))).toEqual([0, 0, 3, 4, 5, 6, 7, 8, 0, 0]);
  });

  const range = (n: number) =>
    fc.record({ a: fc.nat({ max: n }), b: fc.nat({ max: n }), c: fc.nat({ max: n }) }).map(({ a, b, c }) => ({ srcOff: a, dstOff: b, len: Math.max(0, Math.min(c, n - Math.max(a, b))) }));

  it('equals TypedArray.set on random ranges of two buffers (shared or not, views at odd offsets)', () => {
    const copy = native();
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.nat({ max: 15 }), fc.nat({ max: 15 }), range(20_000), (sShared, dShared, so, dso, r) => {
        const mk = (shared: boolean) => (shared ? new SharedArrayBuffer(20_016) : new ArrayBuffer(20_016));
        const src = filled(mk(sShared), 7).subarray(so, so + 20_000);
        const dst = filled(mk(dShared), 99).subarray(dso, dso + 20_000);
        const want = dst.slice();
        want.set(src.subarray(r.srcOff, r.srcOff + r.len), r.dstOff);
        copy(dst, r.dstOff, src, r.srcOff, r.len);
        expect(Buffer.compare(dst, want)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('equals TypedArray.set on overlapping ranges of one buffer (memmove, both directions)', () => {
    const copy = native();
    fc.assert(
      fc.property(fc.boolean(), range(20_000), (shared, r) => {
        const buf = filled(shared ? new SharedArrayBuffer(20_000) : new ArrayBuffer(20_000), 33);
        const want = buf.slice();
        want.set(want.subarray(r.srcOff, r.srcOff + r.len), r.dstOff); // TypedArray.set copies the source out first
        copy(buf, r.dstOff, buf, r.srcOff, r.len);
        expect(Buffer.compare(buf, want)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('installing the native copy', () => {
  afterEach(() => {
    installCopyBytes(undefined);
    delete process.env[NO_NATIVE_COPY_ENV];
  });

  it(`${NO_NATIVE_COPY_ENV}=1 keeps every copy on TypedArray.set`, () => {
    process.env[NO_NATIVE_COPY_ENV] = '1';
    expect(nativeCopyBytes()).toBeUndefined();
    expect(nativeCopyStatus()).toEqual({ available: false, reason: `${NO_NATIVE_COPY_ENV} is set` });
    installCopyBytes(nativeCopyBytes());
    expect(copyBytesImplementation()).toBe('typed-array-set');
    const src = filled(new SharedArrayBuffer(4096), 4);
    const dst = new Uint8Array(4096);
    copyBytes(dst, 0, src, 0, 4096);
    expect(Buffer.compare(dst, src)).toBe(0);
  });

  it('in a fresh process and a worker of it: native with the addon, TypedArray.set without it (TZ_VIRTIO_NO_NATIVE=1)', async () => {
    const off = await runNodeModuleEnv({ TZ_VIRTIO_NO_NATIVE: '1' });
    expect(off.impl).toBe('typed-array-set');
    expect(off.reason).toMatch(/TZ_VIRTIO_NO_NATIVE is set/);
    expect(off.same).toBe(true);
    expect(off.inWorker).toEqual({ impl: 'typed-array-set', same: true });
    const on = await runNodeModuleEnv({});
    expect(on).toEqual({ impl: 'native', reason: 'native', same: true, inWorker: { impl: 'native', same: true } });
  });

  it('loads and copies in worker_threads (two at once), out of memory another thread wrote', async () => {
    const sab = new SharedArrayBuffer(1 << 20);
    filled(sab, 21);
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then((h) => {
        const copy = h.nativeCopyBytes();
        const from = new Uint8Array(workerData.sab);
        const to = new Uint8Array(workerData.sab.byteLength);
        copy(to, 0, from, 0, from.length);
        let sum = 0;
        for (let i = 0; i < to.length; i++) sum = (sum * 31 + to[i]) >>> 0;
        parentPort.postMessage({ ok: typeof copy === 'function', sum });
      }, (e) => parentPort.postMessage({ ok: false, error: String(e) }));
    `;
    const url = new URL('../../dist/src/host/native-copy.js', import.meta.url).href;
    const run = () =>
      new Promise<{ ok: boolean; sum: number }>((resolve, reject) => {
        const w = new Worker(src, { eval: true, workerData: { sab, url } });
        w.once('message', (m: { ok: boolean; sum: number }) => {
          void w.terminate().then(() => resolve(m));
        });
        w.once('error', reject);
      });
    const [a, b] = await Promise.all([run(), run()]);
    let sum = 0;
    for (const x of new Uint8Array(sab)) sum = (sum * 31 + x) >>> 0;
    expect(a).toEqual({ ok: true, sum });
    expect(b).toEqual({ ok: true, sum });
  });
});

/** Runs the fallback probe in a fresh node with extra environment. */
type Probe = { impl: string; reason: string; same: boolean; inWorker: { impl: string; same: boolean } };
async function runNodeModuleEnv(env: Record<string, string>): Promise<Probe> {
  const prev = { ...process.env };
  Object.assign(process.env, env);
  try {
    const r = await runNodeModule(`
      const h = await import('./dist/src/host/native-copy.js');
      const c = await import('./dist/src/virtio/copy.js');
      c.installCopyBytes(h.nativeCopyBytes());
      const src = new Uint8Array(new SharedArrayBuffer(65536)).map((_, i) => i * 7);
      const dst = new Uint8Array(65536);
      c.copyBytes(dst, 0, src, 0, 65536);
      // and in a worker of this process, as a partition of --isolation process runs (hypervisor/process/child.ts)
      const { Worker } = await import('node:worker_threads');
      const inWorker = await new Promise((resolve, reject) => {
        const w = new Worker(\`
          // dynamic imports only: the eval'd worker inherits --input-type=module (no require)
          import('node:worker_threads').then(({ parentPort, workerData }) => Promise.all([import(workerData.h), import(workerData.c)]).then(([h, c]) => {
            c.installCopyBytes(h.nativeCopyBytes());
            const from = new Uint8Array(workerData.sab);
            const to = new Uint8Array(from.length);
            c.copyBytes(to, 0, from, 0, from.length);
            parentPort.postMessage({ impl: c.copyBytesImplementation(), same: Buffer.compare(to, from) === 0 });
          }));
        \`, { eval: true, workerData: { sab: src.buffer, h: new URL('./dist/src/host/native-copy.js', 'file://' + process.cwd() + '/').href, c: new URL('./dist/src/virtio/copy.js', 'file://' + process.cwd() + '/').href } });
        w.once('message', (m) => w.terminate().then(() => resolve(m)));
        w.once('error', reject);
      });
      process.stdout.write(JSON.stringify({ impl: c.copyBytesImplementation(), reason: h.nativeCopyStatus().reason, same: Buffer.compare(dst, src) === 0, inWorker }));
    `);
    if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Probe;
  } finally {
    for (const k of Object.keys(env)) {
      if (prev[k] === undefined) delete process.env[k];
      else process.env[k] = prev[k];
    }
  }
}

describe('the devices over the native copy', () => {
  let calls = 0;
  beforeAll(() => {
    const fn = native();
    installCopyBytes((d, dO, s, sO, n) => {
      calls++;
      fn(d, dO, s, sO, n);
    });
  });
  afterAll(() => {
    installCopyBytes(undefined);
  });

  it('RPMsg: copy sends and copyTo / copy() receives of large payloads arrive byte-exact', () => {
    const driver = new RpmsgDriver({ queueSize: 16, bufferSize: 4096 });
    const device = new RpmsgDevice({ queueMaxSize: 64 });
    const echoed: number[] = [];
    const scratch = new Uint8Array(8192);
    device.role.createEndpoint({
      name: 'echo',
      addr: 0x400,
      onMessage: (m, ep) => {
        const n = m.copyTo(scratch, 100);
        void ep.trySendTo(m.src, scratch.subarray(100, 100 + n));
      },
    });
    const t = new LoopbackTransport(driver, device);
    t.settle();
    const ep = driver.role.createEndpoint({ addr: 0x500, dst: driver.role.services.get('echo')!, onMessage: (m) => void echoed.push(checkPayload(m.copy())) });
    const before = calls;
    for (let i = 0; i < 200; i++) {
      while (!ep.trySend(makePayload(i, NATIVE_COPY_MIN_BYTES + ((i * 997) % (4080 - NATIVE_COPY_MIN_BYTES))))) t.settle();
    }
    t.settle();
    expect(echoed).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(calls - before).toBeGreaterThanOrEqual(4 * 200); // per message: send, copyTo, the echo's send, copy()
  });

  it('vsock: a 1 MB stream each way arrives once and in order (split and packed)', async () => {
    for (const packed of [false, true]) {
      const p = makeVsockPair({ packed });
      const N = 1_000_000;
      const fromDriver: Buffer[] = [];
      let serverEnded = false;
      p.device.createServer((s) => {
        s.on('data', (d: Buffer) => fromDriver.push(d));
        s.on('end', () => (serverEnded = true));
        s.end(pattern(2, 0, N));
      }).listen(7);
      const c = p.driver.connect(7);
      const got: Buffer[] = [];
      let clientEnded = false;
      c.on('data', (d: Buffer) => got.push(d));
      c.on('end', () => (clientEnded = true));
      const before = calls;
      c.end(pattern(1, 0, N));
      await runVsock(p, () => serverEnded && clientEnded);
      expect(Buffer.concat(got).equals(pattern(2, 0, N))).toBe(true);
      expect(Buffer.concat(fromDriver).equals(pattern(1, 0, N))).toBe(true);
      expect(calls - before).toBeGreaterThan(2 * (N / 65536));
    }
  });

  it('console: bytes both ways on a port arrive byte-exact', async () => {
    const { device, driver, t } = wire({ device: { ports: ['log'] } });
    await drive(t, () => known(driver, 'log'));
    const d = driver.port('log');
    const s = device.port('log');
    const toDevice = collect(s);
    const toDriver = collect(d);
    const a = pattern(3, 0, 300_000);
    const b = pattern(4, 0, 200_000);
    const before = calls;
    d.write(a);
    s.write(b);
    await drive(t, () => toDevice.bytes().length === a.length && toDriver.bytes().length === b.length, 50_000);
    expect(toDevice.bytes().equals(a)).toBe(true);
    expect(toDriver.bytes().equals(b)).toBe(true);
    expect(calls - before).toBeGreaterThanOrEqual((a.length + b.length) / 4096); // one per 4 KiB buffer at least
  });
});
