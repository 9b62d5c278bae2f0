/**
 * Human-readable rendering of inspect reports. The JSON form is the contract; this text is for people and may
 * change. Descriptors that are all zero are summarised rather than listed one per line.
 */
import type { PackedReport } from './packed-report.js';
import type { SplitReport } from './split-report.js';
import type { ReportSegment } from './image.js';

function splitFlagNames(f: number): string {
  const n: string[] = [];
  if (f & 1) n.push('NEXT');
  if (f & 2) n.push('WRITE');
  if (f & 4) n.push('INDIRECT');
  if (f & ~7) n.push(`0x${(f & ~7).toString(16)}`);
  return n.length ? n.join('|') : '-';
}

function packedFlagNames(f: number): string {
  const n: string[] = [];
  if (f & 1) n.push('NEXT');
  if (f & 2) n.push('WRITE');
  if (f & 4) n.push('INDIRECT');
  if (f & 0x80) n.push('AVAIL');
  if (f & 0x8000) n.push('USED');
  const rest = f & ~0x8087;
  if (rest) n.push(`0x${rest.toString(16)}`);
  return n.length ? n.join('|') : '-';
}

function segments(segs: readonly ReportSegment[]): string {
  return segs.map((s) => `${s.write ? 'W' : 'R'} ${s.addr}+${s.len}`).join(', ');
}

function errorLines(errors: readonly { code: string; message: string }[]): string[] {
  if (errors.length === 0) return ['errors: none'];
  return ['errors:', ...errors.map((e) => `  ${e.code}: ${withoutCode(e.code, e.message)}`)];
}

export function renderSplitText(r: SplitReport): string {
  const out: string[] = [];
  out.push(`split virtqueue, size ${r.queueSize} (image base ${r.base})`);
  out.push(`  desc ${r.areas.desc}  avail ${r.areas.avail}  used ${r.areas.used}${r.areas.legacyAlign !== undefined ? `  (legacy layout, align ${r.areas.legacyAlign})` : ''}`);
  out.push(`avail: flags 0x${r.avail.flags.toString(16)}${r.avail.flags & 1 ? ' (NO_INTERRUPT)' : ''}  idx ${r.avail.idx}  used_event ${r.avail.usedEvent}`);
  out.push(`used:  flags 0x${r.used.flags.toString(16)}${r.used.flags & 1 ? ' (NO_NOTIFY)' : ''}  idx ${r.used.idx}  avail_event ${r.used.availEvent}`);
  const inFlight = r.outstanding.length;
  out.push(`outstanding (used.idx ${r.used.idx} .. avail.idx ${r.avail.idx}): ${inFlight}`);
  for (const c of r.outstanding) {
    if ('error' in c) out.push(`  head ${c.head}: ${c.error} (${withoutCode(c.error, c.message)})`);
    else out.push(`  head ${c.head}${c.indirect ? ' [indirect]' : ''}: ${segments(c.segments)}`);
  }
  out.push('descriptors:');
  let zeros = 0;
  r.desc.forEach((d, i) => {
    if (d.addr === '0x0' && d.len === 0 && d.flags === 0 && d.next === 0) {
      zeros++;
      return;
    }
    out.push(`  [${i}] addr ${d.addr} len ${d.len} flags ${splitFlagNames(d.flags)} next ${d.next}`);
  });
  if (zeros) out.push(`  (${zeros} all-zero descriptors not shown)`);
  out.push(...errorLines(r.errors));
  return out.join('\n') + '\n';
}

export function renderPackedText(r: PackedReport): string {
  const out: string[] = [];
  out.push(`packed virtqueue, size ${r.queueSize} (image base ${r.base})`);
  out.push(`  desc ${r.areas.desc}  driver event ${r.areas.driverEvent}  device event ${r.areas.deviceEvent}`);
  for (const [name, e] of [['driver event', r.driverEvent], ['device event', r.deviceEvent]] as const) {
    out.push(`${name}: ${e.mode} (flags ${e.flags})  off ${e.off} wrap ${e.wrap}`);
  }
  const avail = r.decoded.states.filter((s) => s.state === 'available').length;
  out.push(`descriptors: ${avail} available, ${r.queueSize - avail} used or never made available`);
  out.push(`available chains: ${r.decoded.chains.length}`);
  for (const c of r.decoded.chains) {
    if ('error' in c) out.push(`  at ${c.index} (wrap ${c.wrap}): ${c.error} (${withoutCode(c.error, c.message)})`);
    else out.push(`  at ${c.index} (wrap ${c.wrap}) id ${c.id}${c.indirect ? ' [indirect]' : ''}: ${segments(c.segments)}`);
  }
  if (r.decoded.consumed.length > 0) {
    out.push(`consumed leftovers (available-looking slots before a used descriptor): ${r.decoded.consumed.length}`);
    for (const c of r.decoded.consumed) out.push(`  at ${c.index} (wrap ${c.wrap}): ${c.count} slot${c.count === 1 ? '' : 's'}, used descriptor at ${c.usedAt}`);
  }
  out.push('descriptors:');
  let zeros = 0;
  r.desc.forEach((d, i) => {
    if (d.addr === '0x0' && d.len === 0 && d.flags === 0 && d.id === 0) {
      zeros++;
      return;
    }
    const s = r.decoded.states[i]!;
    out.push(`  [${i}] addr ${d.addr} len ${d.len} id ${d.id} flags ${packedFlagNames(d.flags)} -> ${s.state} (wrap ${s.wrap})`);
  });
  if (zeros) out.push(`  (${zeros} all-zero descriptors not shown)`);
  out.push(...errorLines(r.errors));
  return out.join('\n') + '\n';
}

/** A typed error's message starts with its code; beside the code it is printed once. */
function withoutCode(code: string, message: string): string {
  return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
}
