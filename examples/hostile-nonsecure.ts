/**
 * A hostile non-secure partition: it tries everything a compromised general-purpose OS could try against the secure
 * world, and records for each attack how it was stopped (ctx.stats "attack.<n>.<name>" = outcome, and the log).
 *
 * Run it against the default secure partition:
 *   tz-virtio run --scenario hostile [--cores 1|2]
 *
 * 1. baseline: the secure "tz-signer" service answers a PUBKEY request;
 * 2. platform: read and write secure RAM (the key), an unbacked address, SMC calls with bad numbers and arguments,
 *    an interrupt storm (tens of thousands of NOTIFY SMCs) — the secure RT task must keep its deadlines meanwhile;
 * 3. rings (vring1: host -> secure, read by the secure device; vring0: secure -> host, written by it): a descriptor
 *    loop, a buffer at the secure key's address with a 4 GiB length, an address beyond 2^48, an avail.idx jump, a
 *    device-writable buffer aimed at secure RAM, and a descriptor rewritten right after it was published. After
 *    each, the secure device must have set DEVICE_NEEDS_RESET (or dropped the message); the channel is then reset
 *    and the service must answer again.
 *
 * The guest API has no channel reset (see docs/robustness.md), so after the first ring attack this partition drives
 * the channel with its own RpmsgHost over the IPC window it holds anyway.
 */
import type { GuestContext } from '../src/guest/api.js';
import { SmcCall } from '../src/guest/api.js';
import { isGuestError } from '../src/guest/errors.js';
import { PhysicalMemory } from '../src/virtio/memory.js';
import { splitLegacyLayout } from '../src/virtio/split/layout.js';
import { DeviceStatus } from '../src/virtio/status.js';
import { RpmsgHost, layoutFromResourceTable, type Endpoint } from '../src/rpmsg/index.js';
import { Op, SERVICE_NAME, decode, encode } from './signer-protocol.js';

const NEXT = 1;
const WRITE = 2;

export default async function main(ctx: GuestContext): Promise<void> {
  const results: { name: string; outcome: string; stopped: boolean }[] = [];
  const record = (name: string, stopped: boolean, outcome: string) => {
    results.push({ name, outcome, stopped });
    ctx.stats.set(`attack.${results.length}.${name}`, `${stopped ? 'stopped' : 'NOT STOPPED'}: ${outcome}`);
    ctx.log(`attack ${name}: ${stopped ? 'stopped' : 'NOT STOPPED'} (${outcome})`);
  };
  const secureRam = ctx.map.windows.find((w) => w.secure);
  const keyAddress = Number(ctx.args['keyAddress'] ?? (secureRam ? secureRam.base + 0x1000 : 0x3c00_1000));
  const ipc = ctx.map.windows.find((w) => w.name === 'ipc')!;
  const storm = Number(ctx.args['stormNotifies'] ?? 20_000);

  // ---- 1. baseline -------------------------------------------------------------------------------------------
  await ctx.rpmsg.ready();
  const service = await ctx.rpmsg.findService(SERVICE_NAME);
  let answers = 0;
  const ep0 = ctx.rpmsg.createEndpoint((data) => {
    if (decode(data)?.op === Op.PUBKEY) answers++;
  });
  ep0.send(service, encode(Op.PUBKEY, 0, 1, new Uint8Array(0)));
  for (let i = 0; i < 50 && answers === 0; i++) await ctx.waitForInterrupt(20_000);
  ctx.stats.set('baseline.answered', answers > 0);

  // ---- 2. platform attacks -----------------------------------------------------------------------------------
  const expectFault = (name: string, f: () => unknown) => {
    try {
      const v = f();
      record(name, false, `returned ${String(v instanceof Uint8Array ? `${v.length} bytes` : v)}`);
    } catch (e) {
      if (isGuestError(e)) record(name, true, `${e.code} (the access was refused, the hypervisor recorded it)`);
      else record(name, false, `unexpected ${String(e)}`);
    }
  };
  expectFault('read-secure-key', () => ctx.memory.read(keyAddress, 32));
  expectFault('write-secure-ram', () => ctx.memory.write32(keyAddress, 0xdeadbeef));
  expectFault('view-secure-ram', () => ctx.memory.view(keyAddress - 16, 64));
  expectFault('read-unbacked-address', () => ctx.memory.read32(0x2000_0000));
  expectFault('read-beyond-ddr', () => ctx.memory.read32(0xffff_fff0));
  expectFault('smc-unknown-call', () => ctx.smc(0x7fff));
  expectFault('smc-notify-bad-queue', () => ctx.smc(SmcCall.NOTIFY, 77));
  expectFault('smc-notify-negative', () => ctx.smc(SmcCall.NOTIFY, -1));
  expectFault('smc-not-a-number', () => ctx.smc(Number.NaN));
  // The interrupt storm: the secure RT task's deadline misses during it show in the run report.
  const t0 = ctx.now();
  let notifies = 0;
  try {
    for (let i = 0; i < storm; i++) {
      ctx.smc(SmcCall.NOTIFY, i & 1);
      notifies++;
    }
    record('interrupt-storm', true, `${notifies} NOTIFY SMCs in ${((ctx.now() - t0) / 1000).toFixed(1)} ms, absorbed by the monitor and the GIC (see "notifications" and the RT task's deadline misses in the run report)`);
  } catch (e) {
    record('interrupt-storm', true, `refused after ${notifies} NOTIFY SMCs: ${String(e)}`);
  }

  // ---- 3. ring attacks ---------------------------------------------------------------------------------------
  const view = ctx.memory.view(ipc.base, ipc.size);
  const mem = new PhysicalMemory([{ name: 'ipc', base: ipc.base, size: ipc.size, buffer: view.buffer as SharedArrayBuffer, byteOffset: view.byteOffset }]);
  const layout = layoutFromResourceTable(mem, ipc.base, undefined);
  const v1 = splitLegacyLayout(layout.vring1.da, layout.vring1.num, layout.vring1.align);
  const v0 = splitLegacyLayout(layout.vring0.da, layout.vring0.num, layout.vring0.align);
  const num = layout.vring1.num;
  const buf = layout.buffers.base + layout.buffers.size * (layout.buffers.count - 1);
  const status = () => mem.read8(layout.statusAddr);

  const publish = (v: typeof v1, descs: readonly { i: number; addr: number; hi?: number; len: number; flags: number; next: number }[], vq: number) => {
    for (const d of descs) {
      const at = v.desc + 16 * d.i;
      mem.write32(at, d.addr >>> 0);
      mem.write32(at + 4, d.hi ?? Math.floor(d.addr / 0x1_0000_0000));
      mem.write32(at + 8, d.len >>> 0);
      mem.write16(at + 12, d.flags);
      mem.write16(at + 14, d.next);
    }
    const idx = mem.read16(v.avail + 2);
    mem.write16(v.avail + 4 + 2 * (idx % num), descs[0]!.i);
    mem.atomicStore16(v.avail + 2, (idx + 1) & 0xffff);
    ctx.smc(SmcCall.NOTIFY, vq);
  };
  const waitFor = async (cond: () => boolean, ms: number) => {
    const t = ctx.now();
    while (!cond() && ctx.now() - t < ms * 1000) await ctx.waitForInterrupt(10_000);
    return cond();
  };

  // The channel, driven by this partition's own host once the runtime's has been left behind.
  let host: RpmsgHost | undefined;
  let ep: Endpoint | undefined;
  let replies = 0;
  const resetChannel = async (): Promise<boolean> => {
    host ??= new RpmsgHost(mem, layout, { transport: { notify: (vq) => void ctx.smc(SmcCall.NOTIFY, vq) } });
    host.reset();
    // Let the secure side see status 0 before starting again (it re-attaches at DRIVER_OK).
    await waitFor(() => false, 30);
    host.start();
    ep = host.createEndpoint({ onMessage: (m) => void (decode(m.copy())?.op === Op.PUBKEY && replies++) });
    if (!(await waitFor(() => (host!.poll(), host!.services.has(SERVICE_NAME)), 2000))) return false;
    const before = replies;
    ep.trySendTo(host.services.get(SERVICE_NAME)!, encode(Op.PUBKEY, 0, 2, new Uint8Array(0)));
    return waitFor(() => (host!.poll(), replies > before), 2000);
  };
  const ringAttack = async (name: string, attack: () => void, expectReset = true) => {
    attack();
    const flagged = await waitFor(() => (status() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0, 500);
    const answered = await resetChannel();
    const how = flagged ? 'the secure device refused the chain and set DEVICE_NEEDS_RESET' : expectReset ? 'no DEVICE_NEEDS_RESET seen' : 'dropped without a reset';
    record(name, flagged || !expectReset, `${how}; after the channel reset the service ${answered ? 'answered again' : 'DID NOT ANSWER'}`);
    ctx.stats.add('ringAttacks.answeredAfterReset', answered ? 1 : 0);
  };

  await ringAttack('descriptor-loop', () => publish(v1, [{ i: 0, addr: buf, len: 64, flags: NEXT, next: 0 }], 1));
  await ringAttack('buffer-at-secure-key-4GiB-long', () => publish(v1, [{ i: 1, addr: keyAddress, len: 0xffff_ffff, flags: 0, next: 0 }], 1));
  await ringAttack('address-beyond-2^48', () => publish(v1, [{ i: 2, addr: 0x1000, hi: 0x0001_0000, len: 64, flags: 0, next: 0 }], 1));
  await ringAttack('avail-idx-jump', () => {
    mem.atomicStore16(v1.avail + 2, (mem.read16(v1.avail + 2) + 1000) & 0xffff);
    ctx.smc(SmcCall.NOTIFY, 1);
  });
  // Every receive buffer the host posted on vring0 re-aimed at the secure key, then a request: the secure side's
  // reply must not be written there.
  await ringAttack('writable-buffer-in-secure-ram', () => {
    for (let i = 0; i < layout.vring0.num; i++) {
      mem.write32(v0.desc + 16 * i, keyAddress >>> 0);
      mem.write32(v0.desc + 16 * i + 4, 0);
      mem.write16(v0.desc + 16 * i + 12, WRITE);
    }
    ep?.trySendTo(host!.services.get(SERVICE_NAME)!, encode(Op.PUBKEY, 0, 3, new Uint8Array(0)));
  });
  // A message published, then its descriptor re-aimed at the key before the secure side reads it: whichever
  // version it reads, it must not read secure memory (the old one is answered or the new one refused).
  await ringAttack(
    'rewrite-descriptor-after-publish',
    () => {
      publish(v1, [{ i: 3, addr: buf, len: 16, flags: 0, next: 0 }], 1);
      mem.write32(v1.desc + 16 * 3, keyAddress >>> 0);
      mem.write32(v1.desc + 16 * 3 + 8, 0x1000);
    },
    false,
  );

  const stopped = results.filter((r) => r.stopped).length;
  ctx.stats.set('attacks.total', results.length);
  ctx.stats.set('attacks.stopped', stopped);
  ctx.log(`${stopped} of ${results.length} attacks stopped`);
}
