import { describe, expect, it } from 'vitest';
import {
  allocateTraceBuffer,
  MissCause,
  readTraceBuffer,
  renderTimelineSvg,
  SwitchCause,
  toChromeTrace,
  TraceKind,
  TraceWriter,
  validateChromeTrace,
} from '../../src/trace/index.js';

function sampleTrace() {
  const sec = allocateTraceBuffer(1000);
  const ns = allocateTraceBuffer(1000);
  const ws = new TraceWriter(sec);
  const wn = new TraceWriter(ns);
  const t = 1_000_000;
  ws.emitAt(t, TraceKind.SWITCH, 0, 0, SwitchCause.BOOT);
  ws.emitAt(t + 100, TraceKind.SWITCH, 0, 1, SwitchCause.YIELD);
  ws.emitAt(t + 200, TraceKind.RT_RELEASE, 0, t + 200, 0);
  ws.emitAt(t + 205, TraceKind.SWITCH, 0, 0, SwitchCause.PREEMPT);
  ws.emitAt(t + 210, TraceKind.RT_START, 0, 0, t + 200);
  ws.emitAt(t + 260, TraceKind.RT_END, 0, 0, 1);
  ws.emitAt(t + 260, TraceKind.RT_MISS, 0, MissCause.NS_HELD_CORE, 10, 0);
  wn.emitAt(t + 120, TraceKind.VQ_ADD, 3, 7, 1);
  ws.emitAt(t + 215, TraceKind.VQ_POP, 3, 7, 0);
  ws.emitAt(t + 230, TraceKind.VQ_USED, 3, 7, 64);
  wn.emitAt(t + 300, TraceKind.VQ_RETIRE, 3, 7, 0);
  wn.emitAt(t + 310, TraceKind.VQ_ADD, 3, 7, 1); // re-added, never popped: its flow start must not dangle
  ws.emitAt(t + 320, TraceKind.SWITCH, 0, 1, SwitchCause.YIELD);
  return [
    { world: 'secure' as const, ...readTraceBuffer(sec) },
    { world: 'nonsecure' as const, ...readTraceBuffer(ns) },
  ];
}

describe('trace buffer', () => {
  it('keeps records in order with every field, and counts what does not fit as dropped', () => {
    const sab = allocateTraceBuffer(3);
    const w = new TraceWriter(sab);
    for (let i = 0; i < 5; i++) w.emitAt(10 + i, TraceKind.SMC, 1, i, 2 * i, 3 * i);
    const { records, dropped } = readTraceBuffer(sab);
    expect(dropped).toBe(2);
    expect(records).toEqual([0, 1, 2].map((i) => ({ ts: 10 + i, kind: TraceKind.SMC, track: 1, a: i, b: 2 * i, c: 3 * i })));
  });

  it('a writer without a buffer records nothing and costs one branch', () => {
    const w = new TraceWriter();
    expect(w.enabled).toBe(false);
    w.emit(TraceKind.SMC, 0, 1);
  });

  it('refuses a capacity outside its range', () => {
    expect(() => allocateTraceBuffer(0)).toThrow(/capacity/);
  });
});

describe('Chrome/Perfetto trace-event conversion', () => {
  it('builds core slices from switches, one world-switch instant per switch, jobs, misses with a cause, paired flows', () => {
    const trace = toChromeTrace(sampleTrace(), { taskNames: ['sensor'], queueNames: { 3: 'rpmsg vq1' } });
    expect(validateChromeTrace(trace)).toEqual([]);
    const ev = trace.traceEvents;
    const cores = ev.filter((e) => e.pid === 1 && e.ph === 'X');
    expect(cores.map((e) => [e.name, e.ts, e.dur])).toEqual([
      ['secure', 0, 100],
      ['non-secure', 100, 105],
      ['secure', 205, 115],
      ['non-secure', 320, 1], // the last hold runs to the end of the trace
    ]);
    expect(ev.filter((e) => e.cat === 'world-switch').map((e) => e.args?.cause)).toEqual(['yield', 'fiq-preemption', 'yield']);
    const miss = ev.find((e) => e.name === 'deadline miss');
    expect(miss?.args).toMatchObject({ cause: 'non-secure-held-core', latenessUs: 10 });
    expect(ev.find((e) => e.ph === 'X' && e.name === 'sensor')).toMatchObject({ ts: 210, dur: 50 });
    const starts = ev.filter((e) => e.ph === 's');
    const ends = ev.filter((e) => e.ph === 'f');
    expect(starts.length).toBe(2);
    expect(ends.map((e) => e.id).sort()).toEqual(starts.map((e) => e.id).sort());
    expect(ev.some((e) => e.ph === 'M' && e.args?.name === 'rpmsg vq1 driver')).toBe(true);
    expect(ev.filter((e) => e.ph === 'C').map((e) => e.args?.buffers)).toEqual([1, 0, 1]);
  });

  it('the validator names the rule each broken trace violates', () => {
    const rules = (doc: unknown) => validateChromeTrace(doc).map((p) => p.rule);
    expect(rules({})).toEqual(['TRACE_EVENTS_ARRAY']);
    expect(rules({ traceEvents: [{ name: 'a', ph: 'B', ts: 1, pid: 1, tid: 1 }] })).toEqual(['B_WITHOUT_E']);
    expect(rules({ traceEvents: [{ name: 'a', ph: 'E', ts: 1, pid: 1, tid: 1 }] })).toEqual(['E_WITHOUT_B']);
    expect(rules({ traceEvents: [{ name: 'a', ph: 's', ts: 1, pid: 1, tid: 1, id: 4 }] })).toEqual(['FLOW_UNPAIRED']);
    expect(rules({ traceEvents: [{ name: 'a', ph: 'X', ts: -1, pid: 1, tid: 1, dur: 1 }] })).toEqual(['TIMESTAMP']);
    expect(rules({ traceEvents: [{ name: 'a', ph: 'X', ts: 1, pid: 1, tid: 1 }] })).toEqual(['DURATION']);
    expect(rules({ traceEvents: [{ name: 'c', ph: 'C', ts: 1, pid: 1, tid: 1, args: { v: 'x' } }] })).toEqual(['COUNTER_ARGS']);
  });
});

describe('timeline picture', () => {
  it('draws core slices, the RT job, its miss and the ring counter in the window', () => {
    const svg = renderTimelineSvg(toChromeTrace(sampleTrace(), { taskNames: ['sensor'] }), { startMs: 0, endMs: 0.5 });
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/fill="#b03a2e"/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(svg).toContain('fill="#27ae60"');
    expect(svg).toContain('fill="#e74c3c"');
    expect(svg).toContain('stroke="#8e44ad"');
    expect(() => renderTimelineSvg(toChromeTrace([]), { startMs: 2, endMs: 1 })).toThrow(/after its start/);
  });
});

describe('trace slices nest as Perfetto needs', () => {
  it('the validator refuses partially overlapping slices on one track and accepts nested ones', () => {
    const x = (ts: number, dur: number, tid = 1) => ({ name: 's', ph: 'X', ts, dur, pid: 1, tid });
    expect(validateChromeTrace({ traceEvents: [x(0, 10), x(2, 3), x(10, 1)] })).toEqual([]);
    expect(validateChromeTrace({ traceEvents: [x(0, 10), x(5, 10)] }).map((p) => p.rule)).toEqual(['X_OVERLAP']);
    expect(validateChromeTrace({ traceEvents: [x(0, 10), x(5, 10, 2)] })).toEqual([]);
  });

  it('ring operations closer than a microsecond get cut so they never overlap', () => {
    const sab = allocateTraceBuffer(10);
    const w = new TraceWriter(sab);
    w.emitAt(100, TraceKind.VQ_ADD, 0, 1, 1);
    w.emitAt(100.3, TraceKind.VQ_ADD, 0, 2, 2);
    w.emitAt(100.3, TraceKind.VQ_ADD, 0, 3, 3);
    w.emitAt(100.5, TraceKind.VQ_POP, 0, 1, 2);
    const trace = toChromeTrace([{ world: 'nonsecure', ...readTraceBuffer(sab) }]);
    expect(validateChromeTrace(trace)).toEqual([]);
    expect(trace.traceEvents.filter((e) => e.ph === 'X' && e.tid === 0).map((e) => e.dur)).toEqual([0.3, 0, 1]);
  });
});
