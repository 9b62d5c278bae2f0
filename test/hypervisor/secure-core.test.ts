/** The secure core's wait, storm defence, reset handshake and SGIs, in-process (no workers, no timed assertions). */
import { describe, expect, it } from 'vitest';
import { SecureCore } from '../../src/hypervisor/secure-core.js';
import { Ctl, NsReq, SecureCtl, allocateCtl, nowUs } from '../../src/hypervisor/ctl.js';
import { IrqLine, SPURIOUS_INTERRUPT } from '../../src/guest/api.js';

function core(o: { cores?: 1 | 2; wakeLeadUs?: number; notifyRatePerSec?: number; notifyBurst?: number; idle?: 'sleep' | 'spin'; adaptiveWakeLead?: boolean } = {}) {
  const ctl = allocateCtl();
  const c = new SecureCore({ cores: o.cores ?? 2, shared: ctl.shared, secure: ctl.secure, numVqs: 2, log: () => undefined, reportFault: () => undefined, ...o });
  return { c, shared: new Int32Array(ctl.shared), secure: new Int32Array(ctl.secure) };
}
const stats = (c: SecureCore) => c.stats() as Record<string, unknown> & { sgi: { toSecure: number; toNonSecure: number } };

describe('SecureCore', () => {
  it('a wait for a release never returns before it (sleep, then spin to the exact time)', () => {
    const { c } = core({ wakeLeadUs: 300 });
    for (const d of [100, 500, 2000]) {
      const until = nowUs() + d;
      c.waitForEvent(until);
      expect(nowUs()).toBeGreaterThanOrEqual(until);
    }
    // the last stretch is spun, unless the host woke the thread only after the release (then the wait was late)
    expect(Number(stats(c)['spinUs']) + Number(stats(c)['lateWaits'])).toBeGreaterThan(0);
  });

  it("two cores, idle 'spin': reaches the release without sleeping; a request still ends it at once", () => {
    const { c, shared } = core({ cores: 2, idle: 'spin' });
    expect(c.idleMode).toBe('spin');
    const until = nowUs() + 2000;
    c.waitForEvent(until);
    expect(nowUs()).toBeGreaterThanOrEqual(until);
    expect(stats(c)['wakeups']).toBe(0);
    expect(stats(c)['idleMode']).toBe('spin');
    Atomics.or(shared, Ctl.NS_REQ_VQ, 1);
    Atomics.or(shared, Ctl.NS_REQ, NsReq.NOTIFY);
    const far = nowUs() + 10_000_000;
    c.waitForEvent(far);
    expect(nowUs()).toBeLessThan(far);
  });

  it("one core ignores idle 'spin' (the idle secure world gives the core away)", () => {
    const { c } = core({ cores: 1, idle: 'spin' });
    expect(c.idleMode).toBe('sleep');
  });

  it('reports the adaptive wake lead: base, bound (smaller on one core), lead in force', () => {
    const two = stats(core({ cores: 2, wakeLeadUs: 200 }).c)['wakeLead'];
    expect(two).toMatchObject({ adaptive: true, baseUs: 200, maxUs: 500, leadUs: 200 });
    const one = stats(core({ cores: 1 }).c)['wakeLead'];
    expect(one).toMatchObject({ baseUs: 250, maxUs: 350 });
    expect(stats(core({ adaptiveWakeLead: false }).c)['wakeLead']).toMatchObject({ adaptive: false });
  });

  it('a non-secure request ends the wait at once; a peer reset too', () => {
    const { c, shared, secure } = core();
    Atomics.or(shared, Ctl.NS_REQ, NsReq.NOTIFY);
    Atomics.or(shared, Ctl.NS_REQ_VQ, 1);
    const until = nowUs() + 10_000_000;
    c.waitForEvent(until);
    expect(nowUs()).toBeLessThan(until);
    c.collectInterrupts();
    Atomics.add(secure, SecureCtl.S_PEER_RESET, 1);
    c.waitForEvent(nowUs() + 10_000_000);
    expect(c.takePeerReset()).toBe(true);
    expect(c.takePeerReset()).toBe(false);
  });

  it('two cores: a non-secure notification becomes SGI 8 on core 0 (acknowledge, end); a secure one SGI 9 to core 1', () => {
    const { c, shared } = core({ cores: 2 });
    Atomics.or(shared, Ctl.NS_REQ_VQ, 2);
    Atomics.or(shared, Ctl.NS_REQ, NsReq.NOTIFY);
    c.collectInterrupts();
    expect(c.takeNotifiedVqs()).toBe(2);
    expect(c.acknowledge()).toBe(IrqLine.VIRTIO_TO_SECURE);
    expect(c.acknowledge()).toBe(SPURIOUS_INTERRUPT); // active, not pending twice
    c.endOfInterrupt(IrqLine.VIRTIO_TO_SECURE);
    c.smc(2, [0]);
    expect(Atomics.load(shared, Ctl.NS_IRQ0) & (1 << IrqLine.VIRTIO_TO_NONSECURE)).not.toBe(0);
    expect(stats(c).sgi).toEqual({ toSecure: 1, toNonSecure: 1 });
    // the distributor forwarded it: nothing of it stays pending on core 1's bank
    expect(c.gic.isPending(IrqLine.VIRTIO_TO_NONSECURE, 1)).toBe(false);
  });

  it('one core: no SGI, the trapped notification is a pending FIQ', () => {
    const { c, shared } = core({ cores: 1 });
    Atomics.or(shared, Ctl.NS_REQ_VQ, 1);
    Atomics.or(shared, Ctl.NS_REQ, NsReq.NOTIFY);
    c.collectInterrupts();
    expect(c.acknowledge()).toBe(IrqLine.VIRTIO_TO_SECURE);
    expect(stats(c).sgi).toEqual({ toSecure: 0, toNonSecure: 0 });
  });

  it('storm: past the burst, notifications are rate-limited and no longer end a wait', () => {
    const { c, shared } = core({ notifyRatePerSec: 1, notifyBurst: 2 });
    for (let i = 0; i < 3; i++) {
      Atomics.or(shared, Ctl.NS_REQ_VQ, 1);
      Atomics.or(shared, Ctl.NS_REQ, NsReq.NOTIFY);
      c.collectInterrupts();
    }
    expect(stats(c)['rateLimitedNotifies']).toBe(1);
    Atomics.or(shared, Ctl.NS_REQ, NsReq.NOTIFY); // pending, but masked
    const until = nowUs() + 30_000;
    c.waitForEvent(until);
    expect(nowUs()).toBeGreaterThanOrEqual(until);
    expect(Number(stats(c)['maskedWaits'])).toBeGreaterThan(0);
  });

  it('the non-secure driver\'s device reset (mailbox RESET) is taken once and acknowledged on NS_RESET_ACK', () => {
    const { c, shared } = core();
    Atomics.or(shared, Ctl.NS_REQ, NsReq.RESET);
    expect(c.takePeerReset()).toBe(true);
    expect(Atomics.load(shared, Ctl.NS_REQ) & NsReq.RESET).toBe(0);
    c.ackPeerReset();
    expect(Atomics.load(shared, Ctl.NS_RESET_ACK)).toBe(1);
    c.ackPeerReset(); // nothing pending: no second acknowledgement
    expect(Atomics.load(shared, Ctl.NS_RESET_ACK)).toBe(1);
    expect(stats(c)['deviceResets']).toBe(1);
  });
});
