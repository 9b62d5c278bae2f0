/**
 * The secure world's core, as its trusted runtime sees it: the secure half of the GIC, the monitor, and the
 * scheduling rules of LTZVisor.
 *
 * Single core (`cores: 1`): the secure world owns the core. When its guest is idle (idle hook / SMC YIELD) the monitor
 * gives the core to the non-secure world (GATE = 1, ring NS) and the secure core waits on its doorbell, with a timeout
 * at its next tick. Any FIQ source — the tick, a non-secure NOTIFY/YIELD request in the mailbox, stop — wakes it and it
 * takes the core back at once (GATE = 0). It never depends on the non-secure side to run: it waits for the
 * non-secure core to reach its next API boundary (that delay is the measured preemption latency) for at most
 * `preemptTimeoutUs`, then runs anyway and counts a timeout.
 *
 * Two cores: the secure world runs on core 0, never gives anything away; idle = wait on its doorbell. Non-secure
 * notifications arrive as mailbox requests + one doorbell wake-up, which this code validates and turns into SGI 8.
 */
import { GuestError, GuestErrorCode } from '../guest/errors.js';
import { IrqLine, SMC_VERSION, SmcCall } from '../guest/api.js';
import type { CorePort } from '../guest/port.js';
import type { FaultRecord } from '../guest/memory-port.js';
import { Gic } from './gic.js';
import { Monitor } from './monitor.js';
import { Samples } from '../guest/stats.js';
import { NotifyLimiter } from './notify-limiter.js';
import { AdaptiveWakeLead } from './wake-lead.js';
import type { Doorbell } from '../sync/doorbell.js';
import type { WakeRecord } from '../trace/miss.js';
import { Waiter } from '../sync/waiter.js';
import type { WaitPolicy } from '../sync/policy.js';
import { Ctl, CtlF64, Gate, NS_REQ_KNOWN, NsReq, NsState, SecureCtl, nonSecureBell, nowUs, ring, secureBell } from './ctl.js';

export interface SecureCoreOptions {
  readonly cores: 1 | 2;
  readonly shared: SharedArrayBuffer;
  readonly secure: SharedArrayBuffer;
  /** Number of virtqueues a NOTIFY may name (bits above are invalid requests). */
  readonly numVqs: number;
  /** Longest wait for the non-secure core to reach a preemption point (µs). Default 20000. */
  readonly preemptTimeoutUs?: number;
  /**
   * RT release precision: a wait for a release sleeps (Atomics.wait) until this many µs before it, then spins to the
   * exact time; on one core the core is taken back from the non-secure world at that moment, so that the
   * preemption latency is absorbed before the release. Default 250. With `adaptiveWakeLead` (default on) this is
   * the minimum: the lead grows to cover the p99 of how late the OS ended recent waits (wake-lead.ts).
   */
  readonly wakeLeadUs?: number;
  /**
   * Upper bound of the adaptive lead (µs). Default 500 with two cores, 350 with one (there the lead is core time
   * taken from the non-secure world). A lead near the RT period makes the thread spin all the time, which a loaded
   * host's scheduler punishes and which took a host core from the non-secure partition (docs/partitions.md).
   */
  readonly maxWakeLeadUs?: number;
  /** Adapt the lead to the measured OS wake-up lateness. Default true. */
  readonly adaptiveWakeLead?: boolean;
  /**
   * Two cores: what core 0 does between releases. 'sleep' (default): Atomics.wait until the lead, then spin.
   * 'spin': never sleep while a release is pending — poll the mailbox and the trusted words until the release
   * (OS wake-up latency is out of the path; costs a host core). One core: always 'sleep' (the idle secure world
   * gives the core to the non-secure one).
   */
  readonly idle?: 'sleep' | 'spin';
  /** How the core waits for a FIQ between releases (two cores only; default block: sleep at once). ./wait-policy.ts */
  readonly waitPolicy?: WaitPolicy;
  /**
   * Interrupt-storm defence: non-secure notifications accepted as wake-ups per second (token bucket). Above it the
   * line is masked: the secure core stops waking for them (it waits on a doorbell only trusted threads ring) and
   * picks the rings up at its next release. Default 4000 (one core: each accepted notification costs a world
   * switch, ~50-100 µs here, so this caps a storm at a fraction of the secure core).
   */
  readonly notifyRatePerSec?: number;
  /** Bucket size (burst) of the rate limit. Default 64. */
  readonly notifyBurst?: number;
  readonly log: (text: string) => void;
  readonly reportFault: (f: FaultRecord) => void;
}

const SPIN_US = 30;
/** Spin turns per clock read (a power of two). */
const SPIN_CLOCK_STRIDE = 32;

export class SecureCore implements CorePort {
  readonly world = 'secure' as const;
  readonly cores: 1 | 2;
  /** The distributor and core 0's CPU interface (two cores: banked SGI/PPI state for cores 0 and 1). */
  readonly gic: Gic;
  /** SGIs sent through the distributor (two cores): non-secure → secure (issued by core 1's monitor), secure → non-secure. */
  private sgiToSecure = 0;
  private sgiToNonSecure = 0;
  private readonly t0 = nowUs();
  readonly monitor = new Monitor(nowUs, 'secure');
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  private readonly sctl: Int32Array;
  /** This core's doorbell (S_DOORBELL; it sleeps on it) and the non-secure core's (IRQs ring it while it sleeps). */
  private readonly bell: Doorbell;
  private readonly nsBell: Doorbell;
  /** The spin phase of the core's wait policy (two cores, policy other than block). */
  private readonly waiter: Waiter | undefined;
  private readonly numVqs: number;
  private readonly preemptTimeoutUs: number;
  /** Authoritative: does the secure world hold the core (single core)? Private to this worker. */
  private holdsCore = true;
  /** Virtqueues the non-secure side notified since the last takeNotifiedVqs(). */
  private notified = 0;
  private invalidRequests = 0;
  private nsNotifies = 0;
  private wakeups = 0;
  private spuriousWakeups = 0;
  private readonly lead: AdaptiveWakeLead;
  /** Effective idle mode ('spin' only with two cores). */
  readonly idleMode: 'sleep' | 'spin';
  /** How late a timed Atomics.wait returned after its target (the OS wake-up latency the lead absorbs). */
  private readonly wakeLate = new Samples(1 << 14);
  private spinUs = 0;
  private idleUs = 0;
  /** Waits that reached their target time late (after the spin phase could not start before it). */
  private lateWaits = 0;
  private readonly limiter: NotifyLimiter;
  /** Waits done with non-secure notifications masked. */
  private maskedWaits = 0;
  /** Last S_PEER_RESET sequence taken, and how many peer resets were handled. */
  private peerResetSeen = 0;
  private peerResets = 0;
  /** Device resets the non-secure driver asked for (mailbox RESET), and whether one waits for its acknowledgement. */
  private deviceResets = 0;
  private deviceResetPending = false;

  constructor(private readonly o: SecureCoreOptions) {
    this.cores = o.cores;
    this.ctl = new Int32Array(o.shared);
    this.f64 = new Float64Array(o.shared);
    this.sctl = new Int32Array(o.secure);
    this.bell = secureBell(this.ctl);
    this.nsBell = nonSecureBell(this.ctl);
    const policy = o.waitPolicy ?? 'block';
    this.waiter = o.cores === 2 && policy !== 'block' ? new Waiter(this.bell, policy, { peer: this.nsBell }) : undefined;
    this.numVqs = o.numVqs;
    this.preemptTimeoutUs = o.preemptTimeoutUs ?? 20_000;
    this.lead = new AdaptiveWakeLead({
      baseUs: o.wakeLeadUs ?? 250,
      maxUs: o.maxWakeLeadUs ?? (o.cores === 2 ? 500 : 350),
      adaptive: o.adaptiveWakeLead !== false,
    });
    this.idleMode = o.cores === 2 && o.idle === 'spin' ? 'spin' : 'sleep';
    this.limiter = new NotifyLimiter(o.notifyRatePerSec ?? 4000, o.notifyBurst ?? 64, nowUs());
    this.gic = new Gic({ lines: 64, cpus: o.cores });
    // secure boot: our lines are group 0 (FIQ), the non-secure world's are group 1 (SGIs and PPIs are banked: set
    // on every core's bank)
    for (let cpu = 0; cpu < o.cores; cpu++) {
      this.gic.configure(IrqLine.VIRTIO_TO_SECURE, { group: 0, enabled: true, priority: 0x40 }, 'secure', cpu);
      this.gic.configure(IrqLine.SECURE_TIMER, { group: 0, enabled: true, priority: 0x20 }, 'secure', cpu);
      this.gic.configure(IrqLine.VIRTIO_TO_NONSECURE, { group: 1, enabled: true, priority: 0xa0 }, 'secure', cpu);
      this.gic.configure(IrqLine.NS_TIMER, { group: 1, enabled: true, priority: 0xa0 }, 'secure', cpu);
    }
    Atomics.store(this.ctl, Ctl.GATE, o.cores === 2 ? Gate.NONSECURE : Gate.SECURE);
    this.monitor.traceBoot(o.cores);
  }

  now(): number {
    return nowUs();
  }

  checkpoint(): void {
    // the secure world is never preempted by the non-secure one; the beat tells the hypervisor it still calls into ctx
    this.sctl[SecureCtl.S_BEAT]!++;
  }

  stopping(): boolean {
    return Atomics.load(this.sctl, SecureCtl.S_STOP) !== 0;
  }

  private nsAlive(): boolean {
    return Atomics.load(this.ctl, Ctl.NS_STATE) !== NsState.EXITED;
  }

  private trustedPending(): boolean {
    return this.stopping() || Atomics.load(this.sctl, SecureCtl.S_PEER_RESET) !== this.peerResetSeen;
  }

  private externalPending(): boolean {
    return Atomics.load(this.ctl, Ctl.NS_REQ) !== 0 || this.trustedPending();
  }

  /** Non-secure notifications are over their rate: they do not wake the secure core until a token is back. */
  private masked(t: number): boolean {
    return this.limiter.masked(t);
  }

  /** A reset of the link: by the hypervisor (peer rebooted, secure word) or asked by the non-secure driver (mailbox RESET). */
  takePeerReset(): boolean {
    const seq = Atomics.load(this.sctl, SecureCtl.S_PEER_RESET);
    let any = false;
    if (seq !== this.peerResetSeen) {
      this.peerResetSeen = seq;
      this.peerResets++;
      any = true;
    }
    if ((Atomics.load(this.ctl, Ctl.NS_REQ) & NsReq.RESET) !== 0) {
      Atomics.and(this.ctl, Ctl.NS_REQ, ~NsReq.RESET);
      this.deviceResets++;
      this.deviceResetPending = true;
      any = true;
    }
    return any;
  }

  ackPeerReset(): void {
    Atomics.store(this.sctl, SecureCtl.S_PEER_RESET_ACK, this.peerResetSeen);
    Atomics.notify(this.sctl, SecureCtl.S_PEER_RESET_ACK);
    if (this.deviceResetPending) {
      this.deviceResetPending = false;
      Atomics.add(this.ctl, Ctl.NS_RESET_ACK, 1);
      ring(this.ctl, Ctl.NS_DOORBELL);
    }
  }

  /**
   * Wait for interrupt until `untilUs` (the next release or timer). Phase 1 sleeps on the doorbell until
   * untilUs - wakeLeadUs (a FIQ — non-secure request, stop — ends it at once); phase 2 spins to the exact time,
   * still watching for a FIQ. On one core the idle hook first yields the core (only when there is time left before
   * the wake-up point) and takes it back when phase 1 ends, so the non-secure world's way to its next preemption
   * point overlaps the lead, not the release.
   */
  waitForEvent(untilUs: number): void {
    if (this.stopping()) return;
    const t0 = nowUs();
    if (this.idleMode === 'spin' && Number.isFinite(untilUs)) {
      // two cores, polling idle: core 0 is the secure world's; it watches the mailbox until the release
      this.spinTo(untilUs, t0);
      const woke = nowUs();
      this.wake = { wantedUs: untilUs, wokeUs: woke, coreBackUs: woke, preemptTimeout: false };
      this.idleUs += woke - t0;
      return;
    }
    const single = this.cores === 1;
    // the adaptive part of the lead takes at most half of the time left: on one core the non-secure world keeps
    // the other half (a lead at or above the period would never give the core away), on two the thread still sleeps
    const wakeAt = Number.isFinite(untilUs) ? untilUs - this.lead.take(untilUs - t0) : untilUs;
    if (single && this.holdsCore && this.nsAlive() && wakeAt > t0 && !this.externalPending()) {
      this.monitor.countSmc('secure', SmcCall.YIELD);
      this.holdsCore = false;
      this.monitor.switchTo('nonsecure', 'yield');
      Atomics.store(this.ctl, Ctl.GATE, Gate.NONSECURE);
      ring(this.ctl, Ctl.NS_DOORBELL);
    }
    let event = false;
    // the policy's spin phase (two cores): a FIQ may come before a sleep is worth it (a masked storm is not one)
    if (this.waiter !== undefined && wakeAt > t0) {
      event = this.waiter.spinFor(() => this.trustedPending() || (this.externalPending() && !this.masked(nowUs())), performance.now() + (wakeAt - t0) / 1000);
    }
    for (;;) {
      if (event) break;
      const t = nowUs();
      if (this.masked(t)) {
        // storm: only trusted events end the wait early; the wait ends when a token is back (or at wakeAt)
        if (this.trustedPending()) {
          event = true;
          break;
        }
        if (t >= wakeAt) break;
        const until = Math.min(wakeAt, t + this.limiter.periodUs);
        const seqW = Atomics.load(this.sctl, SecureCtl.S_WAKE);
        if (this.trustedPending()) continue;
        this.maskedWaits++;
        Atomics.wait(this.sctl, SecureCtl.S_WAKE, seqW, (until - t) / 1000);
        continue;
      }
      const seq = this.bell.seq();
      if (this.externalPending()) {
        event = true;
        break;
      }
      if (t >= wakeAt) break;
      const r = this.bell.sleep(seq, Number.isFinite(wakeAt) ? (wakeAt - t) / 1000 : 1000);
      this.wakeups++;
      this.sctl[SecureCtl.S_BEAT]!++;
      if (r === 'timed-out' && Number.isFinite(wakeAt)) {
        const late = nowUs() - wakeAt;
        if (late >= 0) this.wakeLate.add(late);
        this.lead.record(late);
      } else if (r === 'ok' && !this.externalPending() && nowUs() < wakeAt) this.spuriousWakeups++;
    }
    const woke = nowUs();
    const timeouts = this.monitor.preemptionTimeouts;
    if (single && !this.holdsCore) this.takeCore();
    this.wake = { wantedUs: wakeAt, wokeUs: woke, coreBackUs: single ? nowUs() : woke, preemptTimeout: this.monitor.preemptionTimeouts !== timeouts };
    if (!event && Number.isFinite(untilUs)) this.spinTo(untilUs, nowUs());
    this.idleUs += nowUs() - t0;
  }

  private wake: WakeRecord | undefined;
  lastWake(): WakeRecord | undefined {
    return this.wake;
  }

  /**
   * Spins to `untilUs`, ending early on a FIQ (a masked, rate-limited notification does not end it). The loop
   * allocates (almost) nothing: word loads each turn, the clock every SPIN_CLOCK_STRIDE turns (< 1 µs); the rate
   * limiter (a call that boxes the time) is asked only while a non-secure request is pending. (Reading the clock
   * and the limiter every turn made this loop the secure worker's largest source of garbage: ~8 KB per request.)
   */
  private spinTo(untilUs: number, s0: number): void {
    if (s0 > untilUs) this.lateWaits++;
    let t = s0;
    let turn = 0;
    while (t < untilUs) {
      if (this.trustedPending()) break;
      if (Atomics.load(this.ctl, Ctl.NS_REQ) !== 0 && !this.masked(t)) break;
      // the clock (process.hrtime) allocates a small array per read: read it every SPIN_CLOCK_STRIDE turns only
      if ((++turn & (SPIN_CLOCK_STRIDE - 1)) === 0) t = nowUs();
    }
    this.spinUs += t - s0;
  }

  /** Single core: a FIQ is pending, the monitor takes the core back from the non-secure world. */
  private takeCore(): void {
    const tTake = nowUs();
    Atomics.store(this.ctl, Ctl.GATE, Gate.SECURE);
    this.holdsCore = true;
    // Dekker with the non-secure runtime: we store GATE then load NS_STATE; it stores RUNNING then loads GATE.
    // Sequentially consistent atomics guarantee one of us sees the other.
    let state = Atomics.load(this.ctl, Ctl.NS_STATE);
    const wasRunning = state === NsState.RUNNING;
    if (wasRunning) {
      ring(this.ctl, Ctl.NS_DOORBELL); // not needed to stop it, but wakes a core that is between waits
      const deadline = tTake + this.preemptTimeoutUs;
      const spinEnd = tTake + SPIN_US;
      for (;;) {
        state = Atomics.load(this.ctl, Ctl.NS_STATE);
        if (state !== NsState.RUNNING) break;
        const t = nowUs();
        if (t >= deadline) break;
        if (t < spinEnd) continue;
        const seq = this.bell.seq();
        state = Atomics.load(this.ctl, Ctl.NS_STATE); // (re-read into `state`: a park right here is not a timeout)
        if (state !== NsState.RUNNING) break;
        this.bell.sleep(seq, (deadline - t) / 1000);
      }
      if (state === NsState.RUNNING) this.monitor.notePreemptTimeout();
      else this.monitor.preemption.add(Math.max(0, this.f64[CtlF64.NS_PARK_US]! - tTake));
    }
    const req = Atomics.load(this.ctl, Ctl.NS_REQ);
    this.monitor.switchTo('secure', wasRunning ? 'preempt' : req !== 0 ? 'smc' : state === NsState.EXITED ? 'exit' : 'preempt');
  }

  collectInterrupts(): void {
    const req = Atomics.exchange(this.ctl, Ctl.NS_REQ, 0);
    if (req === 0) return;
    const vqs = Atomics.exchange(this.ctl, Ctl.NS_REQ_VQ, 0);
    if ((req & ~NS_REQ_KNOWN) !== 0) this.invalidRequests++;
    if ((req & NsReq.YIELD) !== 0) this.monitor.countSmc('nonsecure', SmcCall.YIELD);
    if ((req & NsReq.NOTIFY) !== 0) {
      this.monitor.countSmc('nonsecure', SmcCall.NOTIFY);
      const mask = this.numVqs >= 31 ? 0x7fffffff : (1 << this.numVqs) - 1;
      if ((vqs & ~mask) !== 0) this.invalidRequests++;
      const valid = vqs & mask;
      if (valid !== 0) {
        this.nsNotifies++;
        this.limiter.take(nowUs());
        this.notified |= valid;
        if (this.cores === 2) {
          // GICD_SGIR written by core 1's monitor on the SMC's behalf (secure access: a group-0 SGI) → core 0
          this.gic.sendSgi(IrqLine.VIRTIO_TO_SECURE, [0], 'secure');
          this.sgiToSecure++;
        } else this.gic.setPending(IrqLine.VIRTIO_TO_SECURE); // one core: the SMC trapped into the monitor already
      }
    }
  }

  /** Virtqueues notified by the non-secure side since the last call (bits). */
  takeNotifiedVqs(): number {
    const v = this.notified;
    this.notified = 0;
    return v;
  }

  raise(line: number): void {
    if (this.gic.groupOf(line) === 0) this.gic.setPending(line);
  }

  acknowledge(): number {
    return this.gic.acknowledge('secure');
  }

  endOfInterrupt(line: number): void {
    this.gic.endOfInterrupt(line, 'secure');
  }

  isOwnLine(line: number): boolean {
    return Number.isInteger(line) && line >= 0 && line < this.gic.lines && this.gic.groupOf(line) === 0;
  }

  configureLine(line: number, enabled: boolean, priority?: number): boolean {
    if (!this.isOwnLine(line)) return false;
    return this.gic.configure(line, { enabled, ...(priority !== undefined ? { priority } : {}) }, 'secure');
  }

  /**
   * Raises a group-1 line for the non-secure world. Two cores: an SGI to core 1 through the distributor, whose
   * pending state is then forwarded to core 1's CPU interface (in the non-secure worker: the NS_IRQ word plus one
   * doorbell wake-up; the interface acknowledges and ends it). One core: a pending IRQ for its next turn.
   */
  raiseNonSecure(line: number): void {
    if (this.cores === 2 && line < 16 && this.gic.sendSgi(line, [1], 'secure') === 1) {
      this.sgiToNonSecure++;
      this.gic.clearPending(line, 1);
    }
    Atomics.or(this.ctl, line < 32 ? Ctl.NS_IRQ0 : Ctl.NS_IRQ1, 1 << (line & 31));
    // wakes the non-secure core only when it sleeps (WFI or parked); a running core sees NS_IRQ at its next boundary
    this.nsBell.ring();
  }

  smc(call: number, args: readonly number[]): number {
    switch (call) {
      case SmcCall.VERSION:
        this.monitor.countSmc('secure', call);
        return SMC_VERSION;
      case SmcCall.TIME:
        this.monitor.countSmc('secure', call);
        return nowUs();
      case SmcCall.NOTIFY: {
        const vq = args[0];
        if (vq === undefined || !Number.isInteger(vq) || vq < 0 || vq >= this.numVqs) {
          throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `smc notify: no virtqueue ${String(vq)}`, { vq });
        }
        this.monitor.countSmc('secure', call);
        this.raiseNonSecure(IrqLine.VIRTIO_TO_NONSECURE);
        return 0;
      }
      case SmcCall.YIELD:
        // handled by the runtime (it knows the next tick): see GuestRuntime.smc
        return 0;
      default:
        throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `smc: unknown call ${call}`, { call });
    }
  }

  reportFault(f: FaultRecord): void {
    this.o.reportFault(f);
  }

  log(text: string): void {
    this.o.log(text);
  }

  stats(): Record<string, unknown> {
    return {
      monitor: this.monitor.snapshot(),
      nsNotifies: this.nsNotifies,
      invalidRequests: this.invalidRequests,
      wakeups: this.wakeups,
      spuriousWakeups: this.spuriousWakeups,
      peerResets: this.peerResets,
      deviceResets: this.deviceResets,
      notifyRatePerSec: this.limiter.perSec,
      rateLimitedNotifies: this.limiter.limited,
      maskedWaits: this.maskedWaits,
      waitPolicy: this.waiter?.policy ?? 'block',
      waitSpinHits: this.waiter?.spinHits ?? 0,
      waitSpinMisses: this.waiter?.spinMisses ?? 0,
      wakeLeadUs: this.lead.leadUs,
      wakeLead: this.lead.stats(),
      idleMode: this.idleMode,
      wakeLateUs: this.wakeLate.summary(),
      lateWaits: this.lateWaits,
      spinUs: Math.round(this.spinUs),
      idleUs: Math.round(this.idleUs),
      gicIgnoredWrites: this.gic.ignoredWrites,
      gicAcknowledged: this.gic.acknowledged,
      sgi: { toSecure: this.sgiToSecure, toNonSecure: this.sgiToNonSecure },
      upUs: Math.round(nowUs() - this.t0),
    };
  }
}
