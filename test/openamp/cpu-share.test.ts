/**
 * The CPU-share detector of the OpenAMP session loop: it stops spinning after consecutive sleeps that the peer ended
 * at once (the peer was waiting for our CPU), starts again after consecutive long sleeps, reports the peer asleep to
 * the peer-aware Waiter while it yields, and ignores sleeps that never happened.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CpuShareDetector, SHORT_SLEEP_US, STRIKES } from '../../src/openamp/cpu-share.js';
import type { SleepResult, Sleeper } from '../../src/sync/doorbell.js';
import { Waiter } from '../../src/sync/waiter.js';

const SHORT = SHORT_SLEEP_US / 3;
const LONG = SHORT_SLEEP_US * 10;

describe('CpuShareDetector', () => {
  it('yields after consecutive short sleeps the peer ended, and spins again after consecutive long ones', () => {
    const d = new CpuShareDetector();
    expect(d.mode).toBe('spin');
    for (let i = 0; i < STRIKES - 1; i++) d.slept(SHORT, true);
    expect(d.mode).toBe('spin');
    d.slept(SHORT, true);
    expect(d.mode).toBe('yield');
    expect(d.toYield).toBe(1);
    // while yielding, short sleeps confirm it
    for (let i = 0; i < 10; i++) d.slept(SHORT, true);
    expect(d.mode).toBe('yield');
    for (let i = 0; i < STRIKES; i++) d.slept(LONG, true);
    expect(d.mode).toBe('spin');
    expect(d.toSpin).toBe(1);
  });

  it('needs the strikes in a row: one sleep of the other kind starts the count again', () => {
    const d = new CpuShareDetector();
    for (let i = 0; i < 20; i++) {
      for (let k = 0; k < STRIKES - 1; k++) d.slept(SHORT, true);
      d.slept(LONG, true);
    }
    expect(d.mode).toBe('spin');
    expect(d.toYield).toBe(0);
  });

  it('counts a sleep that ran out (not ended by the peer) as long, however short', () => {
    const d = new CpuShareDetector();
    for (let i = 0; i < 10; i++) d.slept(SHORT, false);
    expect(d.mode).toBe('spin');
    for (let i = 0; i < STRIKES; i++) d.slept(SHORT, true);
    expect(d.mode).toBe('yield');
    for (let i = 0; i < STRIKES; i++) d.slept(SHORT, false);
    expect(d.mode).toBe('spin');
  });

  it('changes mode exactly when the last STRIKES sleeps since the previous change are of the other kind (model)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ us: fc.oneof(fc.constant(SHORT), fc.constant(LONG), fc.double({ min: 0, max: 1000, noNaN: true })), rung: fc.boolean() }), { maxLength: 200 }), (sleeps) => {
        const d = new CpuShareDetector();
        let mode: 'spin' | 'yield' = 'spin';
        let run = 0;
        for (const s of sleeps) {
          const short = s.rung && s.us < SHORT_SLEEP_US;
          run = (mode === 'spin') === short ? run + 1 : 0;
          if (run === STRIKES) {
            mode = mode === 'spin' ? 'yield' : 'spin';
            run = 0;
          }
          d.slept(s.us, s.rung);
          expect(d.mode).toBe(mode);
        }
      }),
    );
  });

  it('reports the peer asleep to the Waiter while yielding, and the linked peer state otherwise', () => {
    const d = new CpuShareDetector();
    let baseSleeps = false;
    const p = d.peerState({ hasSleepers: () => baseSleeps, lastWakeMs: 42 });
    expect(p.hasSleepers()).toBe(false);
    expect(p.lastWakeMs).toBe(42);
    baseSleeps = true;
    expect(p.hasSleepers()).toBe(true);
    baseSleeps = false;
    for (let i = 0; i < STRIKES; i++) d.slept(SHORT, true);
    expect(p.hasSleepers()).toBe(true);
    expect(p.lastWakeMs).toBeUndefined(); // no grace for a just-woken peer: the spin is cut at once
    const alone = d.peerState();
    expect(alone.hasSleepers()).toBe(true);
  });

  it('through watch(): ignores sleeps that did not happen (not-equal) and measures the ones that did', () => {
    const d = new CpuShareDetector();
    let result: SleepResult = 'not-equal';
    let sleeps = 0;
    const inner: Sleeper = {
      seq: () => 7,
      sleep: () => {
        sleeps++;
        if (result !== 'not-equal') {
          // a long sleep: at least 10x the threshold, whatever the machine's load
          const until = performance.now() + (SHORT_SLEEP_US * 10) / 1000;
          while (performance.now() < until);
        }
        return result;
      },
      lastWakeUs: 5,
    };
    const w = d.watch(inner);
    expect(w.seq()).toBe(7);
    expect(w.lastWakeUs).toBe(5);
    for (let i = 0; i < STRIKES; i++) d.slept(SHORT, true);
    expect(d.mode).toBe('yield');
    for (let i = 0; i < 5; i++) expect(w.sleep(7, 1)).toBe('not-equal');
    expect(d.mode).toBe('yield');
    result = 'ok';
    for (let i = 0; i < STRIKES; i++) expect(w.sleep(7, 1)).toBe('ok');
    expect(d.mode).toBe('spin');
    expect(sleeps).toBe(5 + STRIKES);
  });

  it('makes a peer-aware Waiter sleep at once while yielding, and spin while not', () => {
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
    expect(w.idle(0, arm, disarm)).toBe(false); // spinning: a 1 s budget
    expect(slept).toBe(0);
    for (let i = 0; i < STRIKES; i++) d.slept(SHORT, true);
    expect(w.idle(0, arm, disarm)).toBe(true); // yielding: sleeps at once
    expect(slept).toBe(1);
    expect(w.peerAsleepCuts).toBe(1);
  });
});
