/**
 * The spin-or-yield detector of the OpenAMP session loop: it starts yielding, probes now and then (one idle episode
 * spins), spins after consecutive probes that paid, and yields again after consecutive spins that ended in a sleep or
 * sleeps the peer ended at once; it reports the peer asleep to the peer-aware Waiter while it yields.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CpuShareDetector, PROBE_EVERY, PROBE_HITS, SHORT_SLEEP_US, STRIKES } from '../../src/openamp/cpu-share.js';
import type { SleepResult, Sleeper } from '../../src/sync/doorbell.js';
import { Waiter } from '../../src/sync/waiter.js';

const SHORT = SHORT_SLEEP_US / 3;
const LONG = SHORT_SLEEP_US * 10;

/** Feeds sleeps until the detector probes; returns how many it took. */
function untilProbe(d: CpuShareDetector): number {
  let n = 0;
  while (!d.probing && n < 10 * PROBE_EVERY) {
    d.slept(LONG, true);
    n++;
  }
  return n;
}

describe('CpuShareDetector', () => {
  it('starts yielding, probes after two sleeps and then every PROBE_EVERY sleeps', () => {
    const d = new CpuShareDetector();
    expect(d.mode).toBe('yield');
    expect(d.yielding).toBe(true);
    expect(untilProbe(d)).toBe(2);
    expect(d.yielding).toBe(false); // the probe episode spins
    d.slept(LONG, true, true); // the probe ran out: no pay
    expect(d.probing).toBe(false);
    expect(d.mode).toBe('yield');
    expect(untilProbe(d)).toBe(PROBE_EVERY - 1);
    expect(d.probes).toBe(2);
  });

  it('spins after PROBE_HITS probes in a row that the peer ended while spinning', () => {
    const d = new CpuShareDetector();
    untilProbe(d);
    for (let i = 0; i < PROBE_HITS - 1; i++) {
      d.hit();
      expect(d.mode).toBe('yield');
      expect(d.probing).toBe(true); // the next probe at once
    }
    d.hit();
    expect(d.mode).toBe('spin');
    expect(d.toSpin).toBe(1);
    expect(d.yielding).toBe(false);
  });

  it('a probe that runs out ends the series: the hits must be in a row', () => {
    const d = new CpuShareDetector();
    for (let round = 0; round < 20; round++) {
      untilProbe(d);
      for (let i = 0; i < PROBE_HITS - 1; i++) d.hit();
      d.slept(LONG, true, true);
    }
    expect(d.mode).toBe('yield');
    expect(d.toSpin).toBe(0);
  });

  it('hits outside a probe prove nothing while yielding', () => {
    const d = new CpuShareDetector();
    for (let i = 0; i < 10; i++) d.hit();
    expect(d.mode).toBe('yield');
  });

  it('while spinning: yields after STRIKES spins in a row that ran out, or sleeps the peer ended at once; a hit clears the count', () => {
    const spinning = (): CpuShareDetector => {
      const d = new CpuShareDetector();
      untilProbe(d);
      for (let i = 0; i < PROBE_HITS; i++) d.hit();
      expect(d.mode).toBe('spin');
      return d;
    };
    const a = spinning();
    for (let i = 0; i < STRIKES - 1; i++) a.slept(LONG, true, true);
    a.hit();
    for (let i = 0; i < STRIKES - 1; i++) a.slept(LONG, true, true);
    expect(a.mode).toBe('spin');
    a.slept(LONG, true, true);
    expect(a.mode).toBe('yield');
    expect(a.toYield).toBe(1);

    const b = spinning();
    for (let i = 0; i < STRIKES; i++) b.slept(SHORT, true, false); // the spin was cut, the peer answered at once
    expect(b.mode).toBe('yield');

    const c = spinning();
    for (let i = 0; i < 10; i++) c.slept(LONG, true, false); // cut spins (the linked peer slept), long sleeps
    for (let i = 0; i < 10; i++) c.slept(SHORT, false, false); // time-outs, however short
    expect(c.mode).toBe('spin');
  });

  it('never spins when the probes never pay, whatever the sleeps (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ us: fc.double({ min: 0, max: 5000, noNaN: true }), rung: fc.boolean(), full: fc.boolean() }), { maxLength: 300 }), (sleeps) => {
        const d = new CpuShareDetector();
        for (const s of sleeps) {
          d.slept(s.us, s.rung, s.full);
          expect(d.mode).toBe('yield');
        }
        expect(d.probes).toBeLessThanOrEqual(1 + Math.floor(sleeps.length / PROBE_EVERY) + 1);
      }),
    );
  });

  it('reports the peer asleep to the Waiter while yielding (not while probing), and the linked peer state otherwise', () => {
    const d = new CpuShareDetector();
    let baseSleeps = false;
    const p = d.peerState({ hasSleepers: () => baseSleeps, lastWakeMs: 42 });
    expect(p.hasSleepers()).toBe(true);
    expect(p.lastWakeMs).toBeUndefined(); // no grace for a just-woken peer: the spin is cut at once
    untilProbe(d);
    expect(p.hasSleepers()).toBe(false);
    expect(p.lastWakeMs).toBe(42);
    baseSleeps = true;
    expect(p.hasSleepers()).toBe(true); // a probe does not spin for a peer that sleeps
    baseSleeps = false;
    for (let i = 0; i < PROBE_HITS; i++) d.hit();
    expect(p.hasSleepers()).toBe(false);
    expect(d.peerState().hasSleepers()).toBe(false);
  });

  it('through watch(): ignores sleeps that did not happen (not-equal), measures the others and passes fullSpin on', () => {
    const d = new CpuShareDetector();
    let result: SleepResult = 'not-equal';
    let sleeps = 0;
    const inner: Sleeper = {
      seq: () => 7,
      sleep: () => {
        sleeps++;
        return result;
      },
      lastWakeUs: 5,
    };
    const w = d.watch(inner, () => true);
    expect(w.seq()).toBe(7);
    expect(w.lastWakeUs).toBe(5);
    for (let i = 0; i < 5; i++) expect(w.sleep(7, 1)).toBe('not-equal');
    expect(d.probes).toBe(0);
    result = 'ok';
    expect(w.sleep(7, 1)).toBe('ok');
    expect(w.sleep(7, 1)).toBe('ok');
    expect(d.probing).toBe(true);
    expect(w.sleep(7, 1)).toBe('ok'); // fullSpin: the probe ran out
    expect(d.probing).toBe(false);
    expect(sleeps).toBe(8);
  });

  it('makes a peer-aware Waiter sleep at once while yielding, and spin while spinning', () => {
    const d = new CpuShareDetector();
    let slept = 0;
    const inner: Sleeper = {
      seq: () => 0,
      sleep: () => {
        slept++;
        return 'ok';
      },
      lastWakeUs: -1,
    };
    const w = new Waiter(inner, 'peer-aware', { minMs: 1000, maxMs: 1000, peer: d.peerState() });
    const arm = (): boolean => true;
    const disarm = (): void => undefined;
    expect(w.idle(0, arm, disarm)).toBe(true); // yielding: sleeps at once
    expect(slept).toBe(1);
    expect(w.peerAsleepCuts).toBe(1);
    untilProbe(d);
    for (let i = 0; i < PROBE_HITS; i++) d.hit();
    expect(w.idle(0, arm, disarm)).toBe(false); // spinning: a 1 s budget
    expect(slept).toBe(1);
  });
});
