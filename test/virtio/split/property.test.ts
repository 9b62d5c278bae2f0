/**
 * Random operation sequences of a driver against a device in one thread (fast-check), across the u16 index
 * wrap, with and without INDIRECT_DESC / EVENT_IDX / IN_ORDER:
 *  - the device pops exactly the chains the driver added, in avail order, with the same segments;
 *  - the driver gets every token back once, with the length the device wrote;
 *  - descriptors are conserved (numFree returns to N);
 *  - no notification is lost: a sleeping device (enableNotifications() returned true) never has pending chains
 *    that no kick announced, and a sleeping driver (enableCallbacks() returned true) never has used buffers that
 *    no interrupt announced; with enableCallbacksDelayed() the driver is woken at the latest when everything it
 *    had in flight has been used.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtioFeature, features, type Segment } from '../../../src/virtio/index.js';
import { BUF_BASE, IND_BASE, makePair } from './helpers.js';

type Op =
  | { t: 'add'; out: number; inn: number; lens: number[] }
  | { t: 'kick' }
  | { t: 'pop'; n: number }
  | { t: 'push'; n: number; pick: number; lenFrac: number }
  | { t: 'publish' }
  | { t: 'popUsed'; n: number }
  | { t: 'drvSleep'; delayed: boolean }
  | { t: 'drvDisable' }
  | { t: 'devSleep' }
  | { t: 'devDisable' }
  /** Go to sleep without re-enabling: allowed when notifications/callbacks are still on and nothing is waiting. */
  | { t: 'drvIdle' }
  | { t: 'devIdle' };

function opArb(size: number): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant('add' as const), out: fc.integer({ min: 0, max: Math.max(1, size >> 1) }), inn: fc.integer({ min: 0, max: Math.max(1, size >> 1) }), lens: fc.array(fc.integer({ min: 0, max: 64 }), { minLength: 2 * size, maxLength: 2 * size }) }) },
    { weight: 3, arbitrary: fc.constant({ t: 'kick' as const }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('pop' as const), n: fc.integer({ min: 1, max: size }) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('push' as const), n: fc.integer({ min: 1, max: size }), pick: fc.nat(), lenFrac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    { weight: 3, arbitrary: fc.constant({ t: 'publish' as const }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('popUsed' as const), n: fc.integer({ min: 1, max: size }) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('drvSleep' as const), delayed: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ t: 'drvDisable' as const }) },
    { weight: 3, arbitrary: fc.constant({ t: 'devSleep' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'devDisable' as const }) },
    { weight: 3, arbitrary: fc.constant({ t: 'drvIdle' as const }) },
    { weight: 3, arbitrary: fc.constant({ t: 'devIdle' as const }) },
  );
}

interface Rec {
  token: number;
  head: number;
  segs: { addr: number; len: number; write: boolean }[];
  writable: number;
}

function run(size: number, feats: { indirect: boolean; eventIdx: boolean; inOrder: boolean }, start: number, ops: Op[]): void {
  const f = features(...[feats.indirect && VirtioFeature.INDIRECT_DESC, feats.eventIdx && VirtioFeature.EVENT_IDX, feats.inOrder && VirtioFeature.IN_ORDER].filter((x): x is number => x !== false));
  const { driver, device, memory, addrs } = makePair<number>(size, { features: f, indirect: { base: IND_BASE, tableEntries: size } }, { features: f });
  driver.setIndicesForTest(start);
  device.setIndicesForTest(start);
  const chain = device.newChain();
  const added: Rec[] = []; // in avail order, not yet popped by the device
  const byHead = new Map<number, Rec>();
  const held: Rec[] = []; // popped by the device, in pop order
  const usedLog: { token: number; len: number }[] = []; // pushed, in used order
  let nextToken = 0;
  let published = 0; // chains kicked and not yet popped by the device
  let unpublished = 0;
  let inflight = 0; // published and not yet returned to the driver
  let devAsleep = false;
  let drvAsleep: false | { threshold: number; usedBase: number } = false;
  let drvUsedSeen = 0; // used entries published, total
  let usedPublishedTotal = 0;
  let pushedUnpublished = 0;
  let drvCallbacksOn = true;
  let devNotifyOn = true;

  const check = () => {
    if (devAsleep) expect(device.pending(), 'lost kick').toBe(0);
    if (drvAsleep !== false) {
      expect(usedPublishedTotal - drvAsleep.usedBase < drvAsleep.threshold, 'lost interrupt').toBe(true);
    }
  };

  for (const op of ops) {
    switch (op.t) {
      case 'add': {
        const total = op.out + op.inn;
        if (total === 0 || total > size) break;
        const out: Segment[] = [];
        const inn: Segment[] = [];
        const segs: Rec['segs'] = [];
        for (let k = 0; k < total; k++) {
          const s = { addr: BUF_BASE + 0x100 * k + (op.lens[k + size]! & 0x3f), len: op.lens[k]! };
          (k < op.out ? out : inn).push(s);
          segs.push({ ...s, write: k >= op.out });
        }
        const need = feats.indirect && total > 1 ? 1 : total;
        if (driver.numFree < need) {
          expect(() => driver.add(out, inn, -1)).toThrowError(/QUEUE_FULL/);
          break;
        }
        const token = nextToken++;
        const head = driver.add(out, inn, token);
        const rec = { token, head, segs, writable: inn.reduce((a, s) => a + s.len, 0) };
        added.push(rec);
        byHead.set(head, rec);
        unpublished++;
        break;
      }
      case 'kick': {
        const kicked = driver.kick();
        published += unpublished;
        inflight += unpublished;
        unpublished = 0;
        if (kicked && devAsleep) devAsleep = false;
        break;
      }
      case 'pop': {
        if (devAsleep) break;
        for (let k = 0; k < op.n; k++) {
          const got = device.pop(chain);
          if (!got) {
            expect(published).toBe(0);
            break;
          }
          published--;
          const rec = added.shift()!;
          expect(chain.head).toBe(rec.head);
          expect(chain.toJSON().segments).toEqual(rec.segs.map((s) => ({ addr: '0x' + s.addr.toString(16), len: s.len, write: s.write })));
          expect(chain.indirect).toBe(feats.indirect && rec.segs.length > 1);
          held.push(rec);
        }
        break;
      }
      case 'push': {
        for (let k = 0; k < op.n && held.length > 0; k++) {
          const i = feats.inOrder ? 0 : (op.pick + k) % held.length;
          const rec = held.splice(i, 1)[0]!;
          const len = Math.floor(rec.writable * op.lenFrac);
          device.pushUsed(rec.head, len);
          usedLog.push({ token: rec.token, len });
          pushedUnpublished++;
        }
        break;
      }
      case 'publish': {
        const irq = device.publishUsed();
        usedPublishedTotal += pushedUnpublished;
        pushedUnpublished = 0;
        if (irq && drvAsleep !== false) drvAsleep = false;
        break;
      }
      case 'popUsed': {
        if (drvAsleep !== false) break;
        for (let k = 0; k < op.n; k++) {
          const tok = driver.popUsed();
          if (tok === undefined) {
            expect(drvUsedSeen).toBe(usedPublishedTotal);
            break;
          }
          const want = usedLog.shift()!;
          expect([tok, driver.lastUsedLen]).toEqual([want.token, want.len]);
          drvUsedSeen++;
          inflight--;
        }
        break;
      }
      case 'drvSleep': {
        if (drvAsleep !== false) break;
        drvCallbacksOn = true;
        if (op.delayed) {
          const before = inflight;
          if (driver.enableCallbacksDelayed()) drvAsleep = { threshold: Math.max(1, before), usedBase: drvUsedSeen };
        } else if (driver.enableCallbacks()) {
          drvAsleep = { threshold: 1, usedBase: drvUsedSeen };
        }
        if (drvAsleep !== false) expect(usedPublishedTotal - drvAsleep.usedBase).toBeLessThan(drvAsleep.threshold);
        break;
      }
      case 'drvDisable':
        if (drvAsleep === false) {
          driver.disableCallbacks();
          drvCallbacksOn = false;
        }
        break;
      case 'drvIdle':
        if (drvAsleep === false && drvCallbacksOn && !driver.hasUsed()) drvAsleep = { threshold: 1, usedBase: drvUsedSeen };
        break;
      case 'devIdle':
        if (!devAsleep && devNotifyOn && device.pending() === 0) devAsleep = true;
        break;
      case 'devSleep':
        if (!devAsleep) {
          devNotifyOn = true;
          if (device.enableNotifications()) devAsleep = true;
        }
        break;
      case 'devDisable':
        if (!devAsleep) {
          device.disableNotifications();
          devNotifyOn = false;
        }
        break;
    }
    check();
  }
  // Drain everything and check conservation.
  driver.kick();
  for (;;) {
    while (device.pop(chain)) held.push(added.shift()!);
    for (const rec of held.splice(0)) {
      device.pushUsed(rec.head, 0);
      usedLog.push({ token: rec.token, len: 0 });
    }
    device.publishUsed();
    let tok;
    while ((tok = driver.popUsed()) !== undefined) expect(tok).toBe(usedLog.shift()!.token);
    if (added.length === 0) break;
  }
  expect(usedLog).toEqual([]);
  expect(driver.numFree).toBe(size);
  expect(driver.broken).toBeUndefined();
  expect(device.broken).toBeUndefined();
  expect(memory.read16(addrs.avail + 2)).toBe(driver.availIdx);
}

const startArb = fc.oneof(fc.constant(0), fc.integer({ min: 65520, max: 65535 }), fc.integer({ min: 0, max: 65535 }));
const featArb = fc.record({ indirect: fc.boolean(), eventIdx: fc.boolean(), inOrder: fc.boolean() });

describe('split driver against split device (random operation sequences)', () => {
  for (const size of [1, 4, 16]) {
    it(`queue size ${size}`, () => {
      fc.assert(
        fc.property(featArb, startArb, fc.array(opArb(size), { minLength: 1, maxLength: 300, size: 'max' }), (feats, start, ops) => run(size, feats, start, ops)),
        { numRuns: size === 16 ? 150 : 200 },
      );
    });
  }
});

describe('index wrap and full ring, deterministic', () => {
  it('70000 round trips wrap both u16 indices; the ring stays consistent', () => {
    const { driver, device, memory, addrs } = makePair<number>(8);
    const chain = device.newChain();
    for (let i = 0; i < 70_000; i++) {
      driver.addBuffer(BUF_BASE, 8, true, i);
      driver.kick();
      expect(device.pop(chain)).toBe(true);
      device.pushUsed(chain.head, i & 7);
      device.publishUsed();
      if (driver.popUsed() !== i || driver.lastUsedLen !== (i & 7)) throw new Error(`round ${i}`);
    }
    expect(memory.read16(addrs.avail + 2)).toBe(70_000 & 0xffff);
    expect(memory.read16(addrs.used + 2)).toBe(70_000 & 0xffff);
  });

  it('a completely full ring across the wrap (avail.idx - lastAvail == N is full, not empty)', () => {
    const { driver, device } = makePair<number>(8);
    driver.setIndicesForTest(65532);
    device.setIndicesForTest(65532);
    for (let i = 0; i < 8; i++) driver.addBuffer(BUF_BASE + i, 1, false, i);
    expect(driver.numFree).toBe(0);
    driver.kick();
    expect(driver.availIdx).toBe(4);
    expect(device.pending()).toBe(8);
    const chain = device.newChain();
    const heads = [];
    while (device.pop(chain)) heads.push(chain.head);
    expect(heads).toHaveLength(8);
    for (const h of heads.reverse()) device.pushUsed(h, 0);
    device.publishUsed();
    const toks = [];
    let t;
    while ((t = driver.popUsed()) !== undefined) toks.push(t);
    expect(toks).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    expect(driver.numFree).toBe(8);
  });

  it('a chain of length N, direct and indirect', () => {
    for (const indirect of [false, true]) {
      const f = indirect ? features(VirtioFeature.INDIRECT_DESC) : 0n;
      const { driver, device } = makePair<string>(16, { features: f, indirect: { base: IND_BASE, tableEntries: 16 } }, { features: f });
      const segs = Array.from({ length: 16 }, (_, i) => ({ addr: BUF_BASE + 16 * i, len: 16 }));
      driver.add(segs.slice(0, 10), segs.slice(10), 'long');
      expect(driver.numFree).toBe(indirect ? 15 : 0);
      driver.kick();
      const chain = device.newChain();
      expect(device.pop(chain)).toBe(true);
      expect([chain.count, chain.readable, chain.writableBytes, chain.indirect]).toEqual([16, 10, 96, indirect]);
      device.pushUsed(chain.head, 96);
      device.publishUsed();
      expect(driver.popUsed()).toBe('long');
      expect(driver.numFree).toBe(16);
    }
  });
});
