/**
 * Random operation sequences, driver against device in one thread, checked against a model that counts slots in
 * absolute (never wrapping) numbers: every chain arrives intact, every buffer comes back exactly once with the
 * length the device wrote, in the order the device published, and every notification decision equals the spec's
 * rule evaluated on absolute positions (so the wrap-counter arithmetic is checked against something independent).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { isVirtioError, VirtioErrorCode, VirtioFeature } from '../../../src/virtio/index.js';
import { DATA, pair, TABLES } from './helpers.js';

type Op =
  | { t: 'add'; out: number; inn: number; seed: number }
  | { t: 'kick' }
  | { t: 'pop' }
  | { t: 'complete'; pick: number; full: boolean; frac: number }
  | { t: 'publish' }
  | { t: 'popUsed' }
  | { t: 'drvOff' }
  | { t: 'drvOn' }
  | { t: 'devOff' }
  | { t: 'devOn' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ t: fc.constant('add' as const), out: fc.nat(3), inn: fc.nat(3), seed: fc.nat(1 << 20) })
      .filter((o) => o.out + o.inn > 0),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'add' as const, out: 0, inn: 0, seed: 0 }) },
  { weight: 3, arbitrary: fc.constant({ t: 'kick' as const }) },
  { weight: 6, arbitrary: fc.constant({ t: 'pop' as const }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('complete' as const), pick: fc.nat(64), full: fc.boolean(), frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 3, arbitrary: fc.constant({ t: 'publish' as const }) },
  { weight: 6, arbitrary: fc.constant({ t: 'popUsed' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'drvOff' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'drvOn' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'devOff' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'devOn' as const }) },
);

interface Seg {
  addr: number;
  len: number;
  w: boolean;
}

/** The spec's rule on absolute slot numbers: notify iff the slot named by (off, wrap) was among [oldAbs, newAbs). */
function expectedNotify(word: number, eventIdx: boolean, n: number, oldAbs: number, newAbs: number): boolean {
  if (newAbs === oldAbs) return false;
  const flags = word >>> 16;
  if (flags === 1) return false;
  if (flags !== 2 || !eventIdx) return true;
  // Lap k (0-based) has wrap counter 1 when k is even: the slot's absolute number is off + N*lap, lap parity from wrap.
  const residue = (word & 0x7fff) + ((word & 0x8000) !== 0 ? 0 : n);
  for (let x = oldAbs; x < newAbs; x++) if (x % (2 * n) === residue) return true;
  return false;
}

/** Cheap assertions for the hot loop (vitest's expect is slow over millions of checks). */
function eq(a: unknown, b: unknown): void {
  if (a !== b) throw new Error(`expected ${String(b)}, got ${String(a)}`);
}
function ok(c: boolean): void {
  if (!c) throw new Error('model check failed');
}

function run(size: number, feat: number[], ops: Op[]): void {
  const eventIdx = feat.includes(VirtioFeature.EVENT_IDX);
  const inOrder = feat.includes(VirtioFeature.IN_ORDER);
  const indirect = feat.includes(VirtioFeature.INDIRECT_DESC);
  const tableEntries = Math.min(4, size);
  const { mem, addrs, drv, dev, chain } = pair(size, feat, { indirect: { base: TABLES, tableEntries } });

  const segsOf = new Map<number, Seg[]>();
  const tokenOfId = new Map<number, number>();
  let nextToken = 0;
  let addedSlots = 0;
  let pubAbs = 0;
  let devAvailAbs = 0;
  let usedAbs = 0;
  let publishedChains = 0;
  let poppedChains = 0;
  const popped: { id: number; token: number; writable: number; slots: number }[] = [];
  const completed: { token: number; len: number; slots: number }[] = [];
  const usedFifo: { token: number; len: number }[] = [];
  let addedChains = 0;
  let devSleeping = false;
  let drvSleeping = false;
  let returned = 0;
  let accepted = 0;

  const step = (op: Op): void => {
    switch (op.t) {
      case 'add': {
        const total = op.out + op.inn;
        const token = nextToken++;
        const segs: Seg[] = [];
        for (let j = 0; j < total; j++) {
          segs.push({ addr: DATA + ((token * 5 + j) % 4000) * 16, len: 1 + ((op.seed >> (j * 2)) % 64), w: j >= op.out });
        }
        const expectSlots = indirect && total > 1 && total <= tableEntries ? 1 : total;
        const free = drv.numFree;
        try {
          const id =
            total === 1
              ? drv.addBuffer(segs[0]!.addr, segs[0]!.len, segs[0]!.w, token)
              : drv.add(
                  segs.filter((s) => !s.w),
                  segs.filter((s) => s.w),
                  token,
                );
          ok(total > 0);
          ok(expectSlots <= free);
          eq(drv.numFree, free - expectSlots);
          eq(tokenOfId.has(id), false);
          tokenOfId.set(id, token);
          segsOf.set(token, segs);
          addedSlots += expectSlots;
          addedChains++;
          accepted++;
        } catch (e) {
          if (total === 0) eq(isVirtioError(e, VirtioErrorCode.EMPTY_CHAIN), true);
          else {
            eq(isVirtioError(e, VirtioErrorCode.QUEUE_FULL), true);
            ok(expectSlots > free);
          }
        }
        break;
      }
      case 'kick': {
        const word = mem.read32(addrs.deviceEvent);
        const want = expectedNotify(word, eventIdx, size, pubAbs, pubAbs + addedSlots);
        const got = drv.kick();
        eq(got, want);
        pubAbs += addedSlots;
        addedSlots = 0;
        publishedChains += addedChains;
        addedChains = 0;
        if (devSleeping) {
          if (got) devSleeping = false;
          else eq(dev.pending(), 0); // a lost notification would leave work here
        }
        break;
      }
      case 'pop': {
        if (devSleeping) break;
        const got = dev.pop(chain);
        eq(got, publishedChains > poppedChains);
        if (!got) break;
        poppedChains++;
        const token = tokenOfId.get(chain.head);
        ok(token !== undefined);
        const segs = segsOf.get(token!)!;
        eq(chain.count, segs.length);
        eq(chain.readable, segs.filter((s) => !s.w).length);
        for (let j = 0; j < segs.length; j++) {
          eq(chain.addr[j], segs[j]!.addr);
          eq(chain.len[j], segs[j]!.len);
        }
        devAvailAbs += chain.ringDescs;
        popped.push({ id: chain.head, token: token!, writable: chain.writableBytes, slots: chain.ringDescs });
        break;
      }
      case 'complete': {
        if (popped.length === 0) break;
        const i = inOrder ? 0 : op.pick % popped.length;
        const c = popped.splice(i, 1)[0]!;
        const len = op.full ? c.writable : Math.floor(op.frac * c.writable);
        dev.pushUsed(c.id, len);
        completed.push({ token: c.token, len, slots: c.slots });
        break;
      }
      case 'publish': {
        const moved = completed.reduce((a, c) => a + c.slots, 0);
        const word = mem.read32(addrs.driverEvent);
        const want = expectedNotify(word, eventIdx, size, usedAbs, usedAbs + moved);
        const got = dev.publishUsed();
        eq(got, want);
        usedAbs += moved;
        for (const c of completed) usedFifo.push({ token: c.token, len: c.len });
        completed.length = 0;
        if (drvSleeping) {
          if (got) drvSleeping = false;
          else eq(drv.hasUsed(), false);
        }
        break;
      }
      case 'popUsed': {
        if (drvSleeping) break;
        const t = drv.popUsed();
        const e = usedFifo.shift();
        if (e === undefined) {
          eq(t, undefined);
          break;
        }
        eq(t, e.token);
        eq(drv.lastUsedLen, e.len);
        for (const [id, tok] of tokenOfId) if (tok === e.token) tokenOfId.delete(id);
        segsOf.delete(e.token);
        returned++;
        break;
      }
      case 'drvOff':
        if (!drvSleeping) drv.disableCallbacks();
        break;
      case 'drvOn':
        if (!drvSleeping) {
          const r = drv.enableCallbacks();
          eq(r, usedFifo.length === 0);
          if (r) drvSleeping = true;
        }
        break;
      case 'devOff':
        if (!devSleeping) dev.disableNotifications();
        break;
      case 'devOn':
        if (!devSleeping) {
          const r = dev.enableNotifications();
          eq(r, publishedChains === poppedChains);
          if (r) devSleeping = true;
        }
        break;
    }
  };

  for (const op of ops) step(op);
  // Drain: everything added comes back exactly once and the ring is whole again.
  devSleeping = false;
  drvSleeping = false;
  step({ t: 'kick' });
  for (let guard = 0; guard < 4 * size + 8 && (publishedChains > poppedChains || popped.length > 0 || completed.length > 0 || usedFifo.length > 0); guard++) {
    while (publishedChains > poppedChains) step({ t: 'pop' });
    while (popped.length > 0) step({ t: 'complete', pick: 0, full: false, frac: 0.5 });
    step({ t: 'publish' });
    while (usedFifo.length > 0) step({ t: 'popUsed' });
  }
  eq(drv.popUsed(), undefined);
  eq(returned, accepted);
  eq(tokenOfId.size, 0);
  eq(drv.numFree, size);
  eq(dev.broken, undefined);
  eq(drv.broken, undefined);
  // Enough operations to go round small rings many times.
  if (ops.length >= 1000 && size <= 8) ok(pubAbs > 2 * size);
}

const featArb = fc.subarray([VirtioFeature.EVENT_IDX, VirtioFeature.IN_ORDER, VirtioFeature.INDIRECT_DESC]);

describe('packed driver vs device, random operation sequences', () => {
  it('agree with the model over thousands of operations and many wraps (sizes 1..16, odd sizes included)', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 5, 7, 8, 16), featArb, fc.array(opArb, { minLength: 1000, maxLength: 3000 }), (size, feat, ops) => {
        run(size, feat, ops);
      }),
      { numRuns: 100 },
    );
  });
});
