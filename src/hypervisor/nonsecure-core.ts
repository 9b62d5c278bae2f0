/**
 * The non-secure world's core, as its runtime sees it. This code runs in the non-secure worker, so it is *not*
 * trusted: everything it does is either confined to the non-secure world's own state (its GIC half, its counters) or
 * a request in its mailbox that the secure side validates. What it holds: the shared control block and the
 * non-secure memory windows, nothing else.
 *
 * Single core: every guest API call starts with checkpoint(): when the secure monitor has taken the core (GATE = 0)
 * the core parks (NS_STATE = PARKED, park time published, secure doorbell rung) and waits until the core is given
 * back. An SMC (NOTIFY, YIELD) is a trap into the monitor: the request goes into the mailbox, the core is handed to
 * the secure world and parks. JavaScript cannot interrupt a running worker, so this is the only place where the
 * non-secure guest can be preempted; the secure side measures how long it takes.
 *
 * Two cores: checkpoint() only counts; NOTIFY = mailbox request + one wake-up of the secure core.
 */
import { GuestError, GuestErrorCode } from '../guest/errors.js';
import { IrqLine, SMC_VERSION, SmcCall } from '../guest/api.js';
import type { CorePort } from '../guest/port.js';
import type { FaultRecord } from '../guest/memory-port.js';
import { Gic } from './gic.js';
import { smcName } from './monitor.js';
import type { Doorbell } from '../sync/doorbell.js';
import { Waiter } from '../sync/waiter.js';
import type { WaitPolicy } from '../sync/policy.js';
import { Ctl, CtlF64, Gate, NsReq, NsState, nonSecureBell, nowUs, ring, secureBell } from './ctl.js';

export interface NonSecureCoreOptions {
  readonly cores: 1 | 2;
  readonly shared: SharedArrayBuffer;
  readonly numVqs: number;
  readonly log: (text: string) => void;
  readonly reportFault: (f: FaultRecord) => void;
  /** How the core waits for an interrupt (two cores only; default block: sleep at once). ./wait-policy.ts */
  readonly waitPolicy?: WaitPolicy;
}

export class NonSecureCore implements CorePort {
  readonly world = 'nonsecure' as const;
  readonly cores: 1 | 2;
  /** This core's CPU interface (and its banked SGI/PPI state): core 1 on two cores, core 0 on one. */
  readonly gic: Gic;
  readonly cpu: number;
  private sgiReceived = 0;
  private readonly t0 = nowUs();
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  /** This core's doorbell (it sleeps on it) and the secure core's (its NOTIFY rings it only while it sleeps). */
  private readonly bell: Doorbell;
  private readonly secureBell: Doorbell;
  /** The spin phase of the core's wait policy (two cores, policy other than block). */
  private readonly waiter: Waiter | undefined;
  private apiCalls = 0;
  private parks = 0;
  private parkedUs = 0;
  private wfiUs = 0;
  private readonly smcCounts: Record<string, number> = {};
  /** SMCs the monitor entry refused (unknown call, bad argument), by call. */
  private readonly smcRefused: Record<string, number> = {};

  private refuse(n: string, msg: string, details: Record<string, unknown>): never {
    this.smcRefused[n] = (this.smcRefused[n] ?? 0) + 1;
    throw new GuestError(GuestErrorCode.BAD_ARGUMENT, msg, details);
  }

  constructor(private readonly o: NonSecureCoreOptions) {
    this.cores = o.cores;
    this.ctl = new Int32Array(o.shared);
    this.f64 = new Float64Array(o.shared);
    this.bell = nonSecureBell(this.ctl);
    this.secureBell = secureBell(this.ctl);
    const policy = o.waitPolicy ?? 'block';
    this.waiter = o.cores === 2 && policy !== 'block' ? new Waiter(this.bell, policy, { peer: this.secureBell }) : undefined;
    this.cpu = o.cores === 2 ? 1 : 0;
    this.gic = new Gic({ lines: 64, cpus: o.cores });
    // boot code (before the guest runs): the lines of the non-secure world are group 1
    this.gic.configure(IrqLine.VIRTIO_TO_NONSECURE, { group: 1, enabled: true, priority: 0xa0 }, 'secure', this.cpu);
    this.gic.configure(IrqLine.NS_TIMER, { group: 1, enabled: true, priority: 0x80 }, 'secure', this.cpu);
  }

  /**
   * Called by the boot code right before the guest's main: from here on the core is the guest's, and the secure side
   * waits for it at preemption points. (While the module loads, NS_STATE stays BOOT and the secure side does not wait.)
   */
  begin(): void {
    Atomics.store(this.ctl, Ctl.NS_STATE, NsState.RUNNING);
    this.checkpoint();
  }

  now(): number {
    return nowUs();
  }

  stopping(): boolean {
    return Atomics.load(this.ctl, Ctl.NS_STOP) !== 0;
  }

  private gateOpen(): boolean {
    return this.cores === 2 || Atomics.load(this.ctl, Ctl.GATE) === Gate.NONSECURE;
  }

  checkpoint(): void {
    // a plain store: only this core writes the word, the hypervisor reads it once at stop
    this.ctl[Ctl.NS_BEAT] = ++this.apiCalls;
    if (this.cores === 1 && Atomics.load(this.ctl, Ctl.GATE) !== Gate.NONSECURE) this.park();
  }

  /** Parks until the core is given back. Publishes the park (time first, then state, then the doorbell). */
  private park(): void {
    const t0 = nowUs();
    this.parks++;
    for (;;) {
      this.f64[CtlF64.NS_PARK_US] = nowUs();
      Atomics.add(this.ctl, Ctl.NS_PARKS, 1);
      Atomics.store(this.ctl, Ctl.NS_STATE, NsState.PARKED);
      ring(this.ctl, Ctl.S_DOORBELL);
      for (;;) {
        const seq = this.bell.seq();
        if (Atomics.load(this.ctl, Ctl.GATE) === Gate.NONSECURE) break;
        if (this.stopping()) {
          this.parkedUs += nowUs() - t0;
          throw new GuestError(GuestErrorCode.STOPPED, 'machine stopping');
        }
        this.bell.sleep(seq, 200);
      }
      // Dekker (see SecureCore.takeCore): store RUNNING, then re-check the gate
      Atomics.store(this.ctl, Ctl.NS_STATE, NsState.RUNNING);
      if (Atomics.load(this.ctl, Ctl.GATE) === Gate.NONSECURE) break;
    }
    this.parkedUs += nowUs() - t0;
  }

  private irqPending(): boolean {
    return Atomics.load(this.ctl, Ctl.NS_IRQ0) !== 0 || Atomics.load(this.ctl, Ctl.NS_IRQ1) !== 0;
  }

  waitForEvent(untilUs: number): void {
    const t0 = nowUs();
    Atomics.store(this.ctl, Ctl.NS_STATE, NsState.WFI);
    // the policy's spin phase (two cores): an IRQ, the stop, or the deadline may come before a sleep is worth it
    if (this.waiter !== undefined) this.waiter.spinFor(() => this.stopping() || this.irqPending(), performance.now() + (untilUs - t0) / 1000);
    for (;;) {
      const seq = this.bell.seq();
      if (this.stopping()) break;
      const open = this.gateOpen();
      const t = nowUs();
      if (open && (this.irqPending() || t >= untilUs)) break;
      const timeoutMs = open && Number.isFinite(untilUs) ? (untilUs - t) / 1000 : 200;
      this.bell.sleep(seq, timeoutMs);
    }
    Atomics.store(this.ctl, Ctl.NS_STATE, NsState.RUNNING);
    this.wfiUs += nowUs() - t0;
    if (!this.stopping()) this.checkpoint();
  }

  collectInterrupts(): void {
    const lo = Atomics.exchange(this.ctl, Ctl.NS_IRQ0, 0);
    const hi = Atomics.exchange(this.ctl, Ctl.NS_IRQ1, 0);
    for (let w = 0; w < 2; w++) {
      let bits = w === 0 ? lo : hi;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        bits &= ~(1 << b);
        const line = w * 32 + b;
        if (this.gic.groupOf(line, this.cpu) !== 1) continue;
        this.gic.setPending(line, this.cpu);
        if (line < 16 && this.cores === 2) this.sgiReceived++;
      }
    }
  }

  raise(line: number): void {
    if (this.gic.groupOf(line, this.cpu) === 1) this.gic.setPending(line, this.cpu);
  }

  acknowledge(): number {
    return this.gic.acknowledge('nonsecure', this.cpu);
  }

  endOfInterrupt(line: number): void {
    this.gic.endOfInterrupt(line, 'nonsecure', this.cpu);
  }

  isOwnLine(line: number): boolean {
    return Number.isInteger(line) && line >= 0 && line < this.gic.lines && this.gic.groupOf(line, this.cpu) === 1;
  }

  configureLine(line: number, enabled: boolean, priority?: number): boolean {
    if (!Number.isInteger(line) || line < 0 || line >= this.gic.lines) return false;
    return this.gic.configure(line, { enabled, ...(priority !== undefined ? { priority } : {}) }, 'nonsecure', this.cpu);
  }

  /** Single core: the trap into the monitor hands the core to the secure world and parks. */
  private trap(): void {
    if (this.cores === 1) {
      Atomics.store(this.ctl, Ctl.GATE, Gate.SECURE);
      this.park();
    } else {
      // two cores: wake the secure core only when it sleeps (it sees the mailbox by itself while it runs)
      this.secureBell.ring();
    }
  }

  smc(call: number, args: readonly number[]): number {
    this.checkpoint();
    const n = smcName(call);
    switch (call) {
      case SmcCall.VERSION:
        this.smcCounts[n] = (this.smcCounts[n] ?? 0) + 1;
        return SMC_VERSION;
      case SmcCall.TIME:
        this.smcCounts[n] = (this.smcCounts[n] ?? 0) + 1;
        return nowUs();
      case SmcCall.NOTIFY: {
        const vq = args[0];
        if (vq === undefined || !Number.isInteger(vq) || vq < 0 || vq >= this.o.numVqs) {
          this.refuse(n, `smc notify: no virtqueue ${String(vq)}`, { vq });
        }
        this.smcCounts[n] = (this.smcCounts[n] ?? 0) + 1;
        Atomics.or(this.ctl, Ctl.NS_REQ_VQ, 1 << vq);
        Atomics.or(this.ctl, Ctl.NS_REQ, NsReq.NOTIFY);
        this.trap();
        return 0;
      }
      case SmcCall.YIELD:
        this.smcCounts[n] = (this.smcCounts[n] ?? 0) + 1;
        if (this.cores === 1) {
          Atomics.or(this.ctl, Ctl.NS_REQ, NsReq.YIELD);
          this.trap();
        }
        return 0;
      default:
        this.refuse('unknown', `smc: unknown call ${call}`, { call });
    }
  }

  /**
   * The driver's device reset, trapped to the device model: a RESET request in the mailbox; returns once the secure
   * device acknowledged it (it forgot the rings), so that the driver may lay them out again. Throws
   * GuestError(NO_RPMSG) when no acknowledgement comes within timeoutUs.
   */
  requestDeviceReset(timeoutUs = 2_000_000): void {
    this.checkpoint();
    const before = Atomics.load(this.ctl, Ctl.NS_RESET_ACK);
    Atomics.or(this.ctl, Ctl.NS_REQ, NsReq.RESET);
    const t0 = nowUs();
    this.trap();
    for (;;) {
      const seq = this.bell.seq();
      if (Atomics.load(this.ctl, Ctl.NS_RESET_ACK) !== before) break;
      if (this.stopping()) throw new GuestError(GuestErrorCode.STOPPED, 'machine stopping');
      const left = t0 + timeoutUs - nowUs();
      if (left <= 0) throw new GuestError(GuestErrorCode.NO_RPMSG, 'device reset: the secure device did not acknowledge');
      if (this.cores === 1 && Atomics.load(this.ctl, Ctl.GATE) !== Gate.NONSECURE) this.park();
      else this.bell.sleep(seq, Math.min(left / 1000, 50));
    }
    this.checkpoint();
  }

  /** Marks the partition gone and hands the core back for good. */
  exit(): void {
    Atomics.store(this.ctl, Ctl.NS_STATE, NsState.EXITED);
    if (this.cores === 1) Atomics.store(this.ctl, Ctl.GATE, Gate.SECURE);
    ring(this.ctl, Ctl.S_DOORBELL);
  }

  reportFault(f: FaultRecord): void {
    this.o.reportFault(f);
  }

  log(text: string): void {
    this.o.log(text);
  }

  stats(): Record<string, unknown> {
    return {
      apiCalls: this.apiCalls,
      parks: this.parks,
      parkedUs: this.parkedUs,
      wfiUs: this.wfiUs,
      waitPolicy: this.waiter?.policy ?? 'block',
      waitSpinHits: this.waiter?.spinHits ?? 0,
      waitSpinMisses: this.waiter?.spinMisses ?? 0,
      smc: { ...this.smcCounts },
      smcRefused: { ...this.smcRefused },
      sgiReceived: this.sgiReceived,
      gicAcknowledged: this.gic.acknowledged,
      upUs: Math.round(nowUs() - this.t0),
    };
  }
}
