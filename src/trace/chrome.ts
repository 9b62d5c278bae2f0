/**
 * Trace records → the Chrome/Perfetto trace-event JSON format ({"traceEvents": [...]}, loadable as is in
 * ui.perfetto.dev and chrome://tracing). Processes and threads (tracks):
 *
 *   pid 1 "cores"                  tid = core        X slices "secure"/"non-secure" (who holds the core), i "world switch"
 *   pid 2 "secure partition"       tid 1+task        X RT jobs, i release / deadline miss (args.cause)
 *                                  tid 90 irq, 91 smc, 92 rpmsg, 93 faults
 *   pid 3 "non-secure partition"   tid 90 irq, 91 smc, 92 rpmsg, 93 faults
 *   pid 4 "rings"                  tid 2q (driver side), 2q+1 (device side) of queue q: X add/retire and pop/used
 *                                  (≤ 1 µs, cut short before the next operation of that side: Perfetto needs the
 *                                  slices of one track to nest, never to overlap), C in-flight counter, s/f arrows
 *
 * Flow arrows follow one buffer: driver add → device pop, device used → driver retire. A buffer id is reused only
 * after the driver retired it (§2.7.13/§2.7.14), so the n-th add of an id pairs with its n-th pop.
 * ts are µs relative to the earliest event; M metadata names every process and thread.
 */
import { KIND_NAMES, MISS_CAUSE_NAMES, SWITCH_CAUSE_NAMES, TraceKind } from './events.js';
import type { TraceRecord } from './buffer.js';

export interface TraceSource {
  /** Which partition wrote the buffer (events of the SWITCH kind may come from either). */
  readonly world: 'secure' | 'nonsecure';
  readonly records: readonly TraceRecord[];
  readonly dropped: number;
}

export interface ChromeTraceOptions {
  /** RT task names by index (secure partition). */
  readonly taskNames?: readonly string[];
  /** Queue names by track (e.g. "rpmsg vq0"). */
  readonly queueNames?: Readonly<Record<number, string>>;
  /** Core count of the machine (slices of a core run to `endUs`). */
  readonly endUs?: number;
  /** Free-form metadata stored as the trace's `metadata`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface ChromeEvent {
  name: string;
  ph: 'X' | 'B' | 'E' | 'i' | 'C' | 's' | 'f' | 'M';
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  dur?: number;
  id?: number;
  bp?: 'e';
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  displayTimeUnit: 'ms';
  metadata: Record<string, unknown>;
}

export const PID = { CORES: 1, SECURE: 2, NONSECURE: 3, RINGS: 4 } as const;
export const TID = { IRQ: 90, SMC: 91, RPMSG: 92, FAULTS: 93 } as const;
const WORLD_NAMES = ['secure', 'non-secure'] as const;
const OP_US = 1;

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/**
 * What a non-secure buffer may contain: that world's own view (its ring side, its messages, its interrupts and
 * SMCs). The non-secure partition writes its buffer itself and is hostile: world switches, RT events and events
 * on the secure world's tracks come from the secure buffer only, and records with values that are not finite
 * numbers are dropped.
 */
const NS_KINDS: ReadonlySet<number> = new Set([TraceKind.VQ_ADD, TraceKind.VQ_RETIRE, TraceKind.RPMSG_SEND, TraceKind.RPMSG_RECV, TraceKind.IRQ_RAISE, TraceKind.IRQ_HANDLE, TraceKind.SMC, TraceKind.FAULT]);
const WORLD_TRACK_KINDS: ReadonlySet<number> = new Set([TraceKind.IRQ_RAISE, TraceKind.IRQ_HANDLE, TraceKind.SMC, TraceKind.FAULT]);

function admissible(r: TraceRecord, world: 'secure' | 'nonsecure'): boolean {
  if (![r.ts, r.a, r.b, r.c].every(Number.isFinite) || !Number.isInteger(r.track) || r.track < 0 || r.track > 0xffff) return false;
  if (world === 'secure') return true;
  return NS_KINDS.has(r.kind) && (!WORLD_TRACK_KINDS.has(r.kind) || r.track === 1);
}

export function toChromeTrace(sources: readonly TraceSource[], o: ChromeTraceOptions = {}): ChromeTrace {
  const all: (TraceRecord & { world: 'secure' | 'nonsecure' })[] = [];
  let refused = 0;
  for (const s of sources) {
    for (const r of s.records) {
      if (admissible(r, s.world)) all.push({ ...r, world: s.world });
      else refused++;
    }
  }
  all.sort((x, y) => x.ts - y.ts);
  const t0 = all.length > 0 ? all[0]!.ts : 0;
  const rel = (ts: number) => round3(ts - t0);
  const endRel = o.endUs !== undefined ? rel(o.endUs) : all.length > 0 ? rel(all[all.length - 1]!.ts) + OP_US : 0;
  const ev: ChromeEvent[] = [];
  const meta = (pid: number, tid: number | undefined, name: string) => {
    if (tid === undefined) ev.push({ name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name } });
    else ev.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid, args: { name } });
  };
  meta(PID.CORES, undefined, 'cores');
  meta(PID.SECURE, undefined, 'secure partition');
  meta(PID.NONSECURE, undefined, 'non-secure partition');
  meta(PID.RINGS, undefined, 'rings');
  const named = new Set<string>();
  const thread = (pid: number, tid: number, name: string) => {
    const k = `${pid}/${tid}`;
    if (named.has(k)) return;
    named.add(k);
    meta(pid, tid, name);
  };
  const wpid = (w: 'secure' | 'nonsecure') => (w === 'secure' ? PID.SECURE : PID.NONSECURE);
  const worldPid = (track: number) => (track === 0 ? PID.SECURE : PID.NONSECURE);

  // cores: a slice from each switch to the next one on the same core
  const byCore = new Map<number, (typeof all)[number][]>();
  for (const r of all) if (r.kind === TraceKind.SWITCH) (byCore.get(r.track) ?? byCore.set(r.track, []).get(r.track)!).push(r);
  for (const [core, sw] of byCore) {
    thread(PID.CORES, core, `core ${core}`);
    sw.forEach((r, i) => {
      const next = sw[i + 1];
      const ts = rel(r.ts);
      const end = next !== undefined ? rel(next.ts) : Math.max(endRel, ts);
      const cause = SWITCH_CAUSE_NAMES[r.b] ?? 'unknown';
      ev.push({ name: WORLD_NAMES[r.a] ?? 'unknown', ph: 'X', ts, dur: round3(end - ts), pid: PID.CORES, tid: core, cat: 'world', args: { cause } });
      if (r.b !== 0) ev.push({ name: 'world switch', ph: 'i', s: 't', ts, pid: PID.CORES, tid: core, cat: 'world-switch', args: { to: WORLD_NAMES[r.a] ?? 'unknown', cause } });
    });
  }

  // RT jobs: start..end slices; releases and misses as instants
  const open = new Map<number, { ts: number; job: number; release: number }>();
  const taskName = (t: number) => o.taskNames?.[t] ?? `task ${t}`;
  // rings: flow pairing
  const pendingAdd = new Map<string, number[]>();
  const pendingUsed = new Map<string, number[]>();
  let flowId = 1;
  const inFlight = new Map<number, number>();
  const lastOp = new Map<number, ChromeEvent>();
  const qname = (q: number) => o.queueNames?.[q] ?? `vq ${q}`;

  for (const r of all) {
    const ts = rel(r.ts);
    switch (r.kind) {
      case TraceKind.RT_RELEASE:
        thread(PID.SECURE, 1 + r.track, `rt ${taskName(r.track)}`);
        ev.push({ name: 'release', ph: 'i', s: 't', ts, pid: PID.SECURE, tid: 1 + r.track, cat: 'rt', args: { job: r.b, nominalUs: rel(r.a) } });
        break;
      case TraceKind.RT_START:
        thread(PID.SECURE, 1 + r.track, `rt ${taskName(r.track)}`);
        open.set(r.track, { ts, job: r.a, release: r.b });
        break;
      case TraceKind.RT_END: {
        const s = open.get(r.track);
        if (s === undefined) break;
        open.delete(r.track);
        ev.push({ name: taskName(r.track), ph: 'X', ts: s.ts, dur: round3(Math.max(0, ts - s.ts)), pid: PID.SECURE, tid: 1 + r.track, cat: 'rt', args: { job: s.job, releaseUs: rel(s.release), missed: r.b === 1 } });
        break;
      }
      case TraceKind.RT_MISS:
        thread(PID.SECURE, 1 + r.track, `rt ${taskName(r.track)}`);
        ev.push({ name: 'deadline miss', ph: 'i', s: 't', ts, pid: PID.SECURE, tid: 1 + r.track, cat: 'rt-miss', args: { cause: MISS_CAUSE_NAMES[r.a] ?? 'unknown', latenessUs: round3(r.b), job: r.c } });
        break;
      case TraceKind.IRQ_RAISE:
      case TraceKind.IRQ_HANDLE: {
        const pid = worldPid(r.track);
        thread(pid, TID.IRQ, 'interrupts');
        const raised = r.kind === TraceKind.IRQ_RAISE;
        ev.push({ name: `${raised ? 'raise' : 'handle'} irq ${r.a}`, ph: 'i', s: 't', ts, pid, tid: TID.IRQ, cat: 'irq', args: raised ? { line: r.a } : { line: r.a, latencyUs: r.b < 0 ? null : round3(r.b) } });
        break;
      }
      case TraceKind.SMC: {
        const pid = worldPid(r.track);
        thread(pid, TID.SMC, 'smc');
        ev.push({ name: `smc ${r.a}`, ph: 'i', s: 't', ts, pid, tid: TID.SMC, cat: 'smc', args: { call: r.a } });
        break;
      }
      case TraceKind.RPMSG_SEND:
      case TraceKind.RPMSG_RECV: {
        const pid = wpid(r.world);
        thread(pid, TID.RPMSG, 'rpmsg');
        ev.push({ name: r.kind === TraceKind.RPMSG_SEND ? 'rpmsg send' : 'rpmsg recv', ph: 'i', s: 't', ts, pid, tid: TID.RPMSG, cat: 'rpmsg', args: { src: r.a, dst: r.b, len: r.c } });
        break;
      }
      case TraceKind.FAULT: {
        const pid = wpid(r.world);
        thread(pid, TID.FAULTS, 'security faults');
        ev.push({ name: 'security fault', ph: 'i', s: 't', ts, pid, tid: TID.FAULTS, cat: 'fault', args: { address: '0x' + r.a.toString(16), len: r.b, write: r.c === 1 } });
        break;
      }
      case TraceKind.VQ_ADD:
      case TraceKind.VQ_POP:
      case TraceKind.VQ_USED:
      case TraceKind.VQ_RETIRE: {
        const q = r.track;
        const driverSide = r.kind === TraceKind.VQ_ADD || r.kind === TraceKind.VQ_RETIRE;
        const tid = 2 * q + (driverSide ? 0 : 1);
        thread(PID.RINGS, tid, `${qname(q)} ${driverSide ? 'driver' : 'device'}`);
        const name = KIND_NAMES[r.kind]!.slice(3);
        const op: ChromeEvent = { name, ph: 'X', ts, dur: OP_US, pid: PID.RINGS, tid, cat: 'ring', args: { id: r.a } };
        const prev = lastOp.get(tid);
        if (prev !== undefined) prev.dur = round3(Math.min(OP_US, Math.max(0, ts - prev.ts)));
        lastOp.set(tid, op);
        ev.push(op);
        const key = `${q}/${r.a}`;
        if (r.kind === TraceKind.VQ_ADD || r.kind === TraceKind.VQ_USED) {
          const id = flowId++;
          const m = r.kind === TraceKind.VQ_ADD ? pendingAdd : pendingUsed;
          (m.get(key) ?? m.set(key, []).get(key)!).push(id);
          ev.push({ name: r.kind === TraceKind.VQ_ADD ? 'available' : 'used', ph: 's', ts, id, pid: PID.RINGS, tid, cat: 'buffer' });
        } else {
          const m = r.kind === TraceKind.VQ_POP ? pendingAdd : pendingUsed;
          const id = m.get(key)?.shift();
          if (id !== undefined) ev.push({ name: r.kind === TraceKind.VQ_POP ? 'available' : 'used', ph: 'f', bp: 'e', ts, id, pid: PID.RINGS, tid, cat: 'buffer' });
        }
        if (r.kind === TraceKind.VQ_ADD || r.kind === TraceKind.VQ_RETIRE) {
          inFlight.set(q, r.b);
          ev.push({ name: `${qname(q)} in flight`, ph: 'C', ts, pid: PID.RINGS, tid, args: { buffers: r.b } });
        }
        break;
      }
      default:
        break;
    }
  }
  // a job still running at the end: close it at the end of the trace
  for (const [t, s] of open) ev.push({ name: taskName(t), ph: 'X', ts: s.ts, dur: round3(Math.max(0, endRel - s.ts)), pid: PID.SECURE, tid: 1 + t, cat: 'rt', args: { job: s.job, unfinished: true } });
  // flow starts whose end was never recorded (the trace stopped first) would dangle: drop them
  const unmatched = new Set<number>();
  for (const m of [pendingAdd, pendingUsed]) for (const ids of m.values()) for (const id of ids) unmatched.add(id);
  const traceEvents = unmatched.size === 0 ? ev : ev.filter((e) => !(e.ph === 's' && unmatched.has(e.id!)));
  const dropped = sources.reduce((a, s) => a + s.dropped, 0);
  return { traceEvents, displayTimeUnit: 'ms', metadata: { ...(o.metadata ?? {}), droppedEvents: dropped, refusedEvents: refused, clock: 'CLOCK_MONOTONIC, µs from the first event' } };
}
