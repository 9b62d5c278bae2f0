/**
 * Structural checks of a trace-event JSON document, after the rules Perfetto's JSON importer and chrome://tracing
 * apply: a `traceEvents` array; every event has name, ph, numeric ts ≥ 0, integer pid and tid; X has dur ≥ 0;
 * every B has its E on the same track, properly nested; X slices of one track nest and never partially overlap
 * (Perfetto drops overlapping slices); i has a scope; C has numeric args; flows s/f come in
 * pairs with the same id and the f not before the s; M names a process or a thread. Returns the rule each
 * violation breaks (empty when the trace is well formed).
 */
export interface TraceProblem {
  readonly rule: string;
  readonly index: number;
  readonly detail: string;
}

const PHASES = new Set(['X', 'B', 'E', 'i', 'I', 'C', 's', 't', 'f', 'M']);

export function validateChromeTrace(doc: unknown): TraceProblem[] {
  const out: TraceProblem[] = [];
  const bad = (rule: string, index: number, detail: string) => {
    if (out.length < 100) out.push({ rule, index, detail });
  };
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { traceEvents?: unknown }).traceEvents)) {
    return [{ rule: 'TRACE_EVENTS_ARRAY', index: -1, detail: 'no traceEvents array' }];
  }
  const events = (doc as { traceEvents: unknown[] }).traceEvents;
  const stacks = new Map<string, { name: string; ts: number }[]>();
  const lastTs = new Map<string, number>();
  const flows = new Map<number, { s?: number; f?: number }>();
  events.forEach((e, i) => {
    if (typeof e !== 'object' || e === null) return bad('EVENT_OBJECT', i, 'not an object');
    const ev = e as Record<string, unknown>;
    const ph = ev.ph;
    if (typeof ph !== 'string' || !PHASES.has(ph)) return bad('PHASE', i, `unknown ph ${String(ph)}`);
    if (typeof ev.name !== 'string') bad('NAME', i, 'name is not a string');
    if (typeof ev.ts !== 'number' || !Number.isFinite(ev.ts) || ev.ts < 0) bad('TIMESTAMP', i, `ts ${String(ev.ts)}`);
    if (!Number.isInteger(ev.pid) || !Number.isInteger(ev.tid)) bad('PID_TID', i, 'pid/tid not integers');
    const track = `${String(ev.pid)}/${String(ev.tid)}`;
    const ts = ev.ts as number;
    switch (ph) {
      case 'M':
        if (ev.name !== 'process_name' && ev.name !== 'thread_name' && ev.name !== 'process_sort_index' && ev.name !== 'thread_sort_index') bad('METADATA', i, `metadata ${String(ev.name)}`);
        if (typeof (ev.args as { name?: unknown } | undefined)?.name !== 'string' && String(ev.name).endsWith('_name')) bad('METADATA', i, 'metadata without args.name');
        return;
      case 'X':
        if (typeof ev.dur !== 'number' || ev.dur < 0) bad('DURATION', i, `dur ${String(ev.dur)}`);
        break;
      case 'B':
        (stacks.get(track) ?? stacks.set(track, []).get(track)!).push({ name: String(ev.name), ts });
        break;
      case 'E': {
        const st = stacks.get(track);
        const top = st?.pop();
        if (top === undefined) bad('E_WITHOUT_B', i, `E on ${track} without a B`);
        else if (ts < top.ts) bad('E_BEFORE_B', i, `E at ${ts} before its B at ${top.ts}`);
        break;
      }
      case 'i':
      case 'I':
        if (ev.s !== undefined && ev.s !== 't' && ev.s !== 'p' && ev.s !== 'g') bad('INSTANT_SCOPE', i, `s ${String(ev.s)}`);
        break;
      case 'C': {
        const args = ev.args as Record<string, unknown> | undefined;
        if (args === undefined || Object.values(args).some((v) => typeof v !== 'number')) bad('COUNTER_ARGS', i, 'counter args must be numbers');
        break;
      }
      case 's':
      case 'f': {
        if (typeof ev.id !== 'number') {
          bad('FLOW_ID', i, 'flow without numeric id');
          break;
        }
        const f = flows.get(ev.id) ?? flows.set(ev.id, {}).get(ev.id)!;
        if (ph === 's') {
          if (f.s !== undefined) bad('FLOW_DUPLICATE', i, `flow ${ev.id} starts twice`);
          f.s = ts;
        } else {
          if (f.f !== undefined) bad('FLOW_DUPLICATE', i, `flow ${ev.id} ends twice`);
          f.f = ts;
        }
        break;
      }
      default:
        break;
    }
    // B/E, i and C events of one track come in time order (X slices may be emitted in any order)
    if (ph === 'B' || ph === 'E' || ph === 'C') {
      const prev = lastTs.get(track + ph);
      if (prev !== undefined && ts < prev) bad('TS_ORDER', i, `ts ${ts} after ${prev} on ${track}`);
      lastTs.set(track + ph, ts);
    }
  });
  for (const [track, st] of stacks) if (st.length > 0) bad('B_WITHOUT_E', -1, `${st.length} B without E on ${track}`);
  // complete slices: sorted by start (longer first at equal starts), each must end inside the slices still open
  const slices = new Map<string, { ts: number; end: number; index: number }[]>();
  events.forEach((e, i) => {
    const ev = e as Record<string, unknown>;
    if (ev?.ph !== 'X' || typeof ev.ts !== 'number' || typeof ev.dur !== 'number') return;
    const track = `${String(ev.pid)}/${String(ev.tid)}`;
    (slices.get(track) ?? slices.set(track, []).get(track)!).push({ ts: ev.ts, end: ev.ts + ev.dur, index: i });
  });
  for (const [track, list] of slices) {
    list.sort((a, b) => a.ts - b.ts || b.end - a.end);
    const open: { end: number }[] = [];
    for (const s of list) {
      while (open.length > 0 && open[open.length - 1]!.end <= s.ts + 1e-6) open.pop();
      const parent = open[open.length - 1];
      if (parent !== undefined && s.end > parent.end + 1e-6) bad('X_OVERLAP', s.index, `slice at ${s.ts} on ${track} overlaps the one ending at ${parent.end}`);
      else open.push(s);
    }
  }
  for (const [id, f] of flows) {
    if (f.s === undefined) bad('FLOW_UNPAIRED', -1, `flow ${id} ends without a start`);
    else if (f.f === undefined) bad('FLOW_UNPAIRED', -1, `flow ${id} starts without an end`);
    else if (f.f < f.s) bad('FLOW_ORDER', -1, `flow ${id} ends before it starts`);
  }
  return out;
}
