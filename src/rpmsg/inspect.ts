/**
 * `tz-virtio inspect IMAGE --rpmsg --rsc-table ADDR [--base ADDR] [--json]`: decodes a dumped region: the resource
 * table, both vrings (through the split-ring report of src/virtio/inspect), and the RPMsg messages in the buffers
 * those rings reference:
 *   vring0 (host RX): buffers the remote returned on the used ring (the last min(num, used.idx) entries) hold
 *                     messages to the host, bounded by used.len; outstanding ones are empty posted buffers.
 *   vring1 (host TX): outstanding chains (avail, not used yet) are messages still to be read by the remote; used
 *                     entries are messages already read (their buffers still hold them until reused).
 * Each message: header fields, payload as hex and printable text, name-service messages (dst 53) decoded.
 *
 * Bad ring or buffer contents are reported, never thrown; a bad table or arguments throw an RpmsgError (or the
 * VirtioError of the image helpers), nothing else.
 */
import { VirtioError } from '../virtio/errors.js';
import { splitReport, type SplitReport } from '../virtio/inspect/split-report.js';
import { renderSplitText } from '../virtio/inspect/text.js';
import { imageMemory } from '../virtio/inspect/image.js';
import { RpmsgError, RpmsgErrorCode, isRpmsgError } from './errors.js';
import { RPMSG_HEADER_SIZE, RPMSG_NS_ADDR, RPMSG_NS_MSG_SIZE, VIRTIO_ID_RPMSG } from './constants.js';
import { decodeResourceTable, findVdev, type LocatedEntry } from './resource-table.js';
import { decodeNsMessage, type NsMessage } from './name-service.js';
import type { RpmsgHeader } from './header.js';
import { statusNames } from '../virtio/status.js';

export interface InspectOptions {
  readonly rscTable: number;
  readonly base: number;
  readonly json: boolean;
}

export interface MessageReport {
  readonly vring: 0 | 1;
  /** 'used': returned by the remote; 'pending': made available by the host, not used yet. */
  readonly state: 'used' | 'pending';
  readonly head: number;
  readonly addr: string;
  readonly bufferLen: number;
  readonly header?: RpmsgHeader;
  readonly payloadHex?: string;
  readonly text?: string;
  readonly ns?: NsMessage & { readonly type: 'create' | 'destroy' };
  readonly error?: string;
}

export interface RpmsgImageReport {
  readonly base: string;
  readonly rscTable: string;
  readonly table: { readonly version: number; readonly size: number; readonly entries: unknown[] };
  readonly vdev: { readonly status: number; readonly statusNames: string[]; readonly dfeatures: number; readonly gfeatures: number } | undefined;
  readonly vrings: (SplitReport | { readonly error: string; readonly message: string })[];
  readonly messages: MessageReport[];
  readonly errors: { readonly code: string; readonly message: string }[];
}

const hx = (n: number): string => '0x' + n.toString(16);

function entryJson(e: LocatedEntry): unknown {
  if (e.type === 'vdev') {
    return { ...e, offset: hx(e.offset), config: Buffer.from(e.config).toString('hex'), vrings: e.vrings.map((r) => ({ ...r, da: hx(r.da) })) };
  }
  return { ...e, offset: hx(e.offset), da: hx(e.da), ...('pa' in e ? { pa: hx(e.pa) } : {}) };
}

function printable(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  return s;
}

export function rpmsgImageReport(image: Uint8Array, opts: Omit<InspectOptions, 'json'>): RpmsgImageReport {
  const { base, rscTable } = opts;
  if (!Number.isSafeInteger(rscTable) || rscTable < base || rscTable >= base + image.length) {
    throw new RpmsgError(RpmsgErrorCode.IMAGE, `resource table address ${hx(rscTable)} is outside the image [${hx(base)}, ${hx(base + image.length)})`);
  }
  const img = imageMemory(image, base);
  const table = decodeResourceTable(image.subarray(rscTable - base));
  const vdev = findVdev(table, VIRTIO_ID_RPMSG);
  const errors: { code: string; message: string }[] = [];
  const vrings: RpmsgImageReport['vrings'] = [];
  const messages: MessageReport[] = [];
  if (vdev === undefined) errors.push({ code: RpmsgErrorCode.NO_VDEV, message: 'no RPMsg vdev (id 7) in the table' });
  else if (vdev.vrings.length < 2) errors.push({ code: RpmsgErrorCode.BAD_LAYOUT, message: `the RPMsg vdev has ${vdev.vrings.length} vrings` });
  const mem = img.memory;
  const decodeAt = (vring: 0 | 1, state: MessageReport['state'], head: number, addrHex: string, bufferLen: number): void => {
    const addr = Number(BigInt(addrHex));
    const rep: { -readonly [K in keyof MessageReport]: MessageReport[K] } = { vring, state, head, addr: addrHex, bufferLen };
    if (bufferLen < RPMSG_HEADER_SIZE || !mem.contains(addr, bufferLen)) {
      rep.error = bufferLen < RPMSG_HEADER_SIZE ? `buffer of ${bufferLen} bytes cannot hold a header` : 'buffer is outside the image';
      messages.push(rep);
      return;
    }
    const b = mem.bytes(addr, bufferLen);
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    const header = { src: v.getUint32(0, true), dst: v.getUint32(4, true), reserved: v.getUint32(8, true), len: v.getUint16(12, true), flags: v.getUint16(14, true) };
    rep.header = header;
    if (header.len > bufferLen - RPMSG_HEADER_SIZE) {
      rep.error = `header len ${header.len} exceeds the ${bufferLen - RPMSG_HEADER_SIZE}-byte payload area`;
      messages.push(rep);
      return;
    }
    const payload = b.subarray(RPMSG_HEADER_SIZE, RPMSG_HEADER_SIZE + header.len);
    rep.payloadHex = Buffer.from(payload).toString('hex');
    rep.text = printable(payload);
    if (header.dst === RPMSG_NS_ADDR && header.len === RPMSG_NS_MSG_SIZE) {
      try {
        const ns = decodeNsMessage(payload);
        rep.ns = { ...ns, type: ns.flags === 1 ? 'destroy' : 'create' };
      } catch (e) {
        if (!isRpmsgError(e)) throw e;
        rep.error = e.message;
      }
    }
    messages.push(rep);
  };
  if (vdev !== undefined) {
    vdev.vrings.slice(0, 2).forEach((r, k) => {
      const which = k as 0 | 1;
      let rep: SplitReport;
      try {
        rep = splitReport(image, { queueSize: r.num, base, desc: r.da, align: r.align });
      } catch (e) {
        if (!(e instanceof VirtioError)) throw e;
        // the message without its leading code: the report prints the code once beside it
        const text = e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message;
        vrings.push({ error: e.code, message: text });
        errors.push({ code: e.code, message: `vring${k}: ${text}` });
        return;
      }
      vrings.push(rep);
      const n = r.num;
      // used entries, oldest first: the last min(n, used.idx) the remote wrote
      const usedCount = Math.min(n, rep.used.idx);
      for (let i = usedCount; i > 0; i--) {
        const e = rep.used.ring[(rep.used.idx - i) & (n - 1)]!;
        if (e.id >= n) {
          messages.push({ vring: which, state: 'used', head: e.id, addr: '-', bufferLen: 0, error: `used id ${e.id} is not a descriptor index` });
          continue;
        }
        const d = rep.desc[e.id]!;
        // vring0 buffers were written by the remote: used.len bounds the message; vring1 buffers by the host.
        decodeAt(which, 'used', e.id, d.addr, which === 0 ? Math.min(e.len, d.len) : d.len);
      }
      if (which === 1) {
        for (const c of rep.outstanding) {
          if ('error' in c) messages.push({ vring: 1, state: 'pending', head: c.head, addr: '-', bufferLen: 0, error: `${c.error}: ${c.message}` });
          else if (c.segments.length > 0) decodeAt(1, 'pending', c.head, c.segments[0]!.addr, c.segments[0]!.len);
        }
      }
    });
  }
  return {
    base: hx(base),
    rscTable: hx(rscTable),
    table: { version: table.version, size: table.size, entries: table.entries.map(entryJson) },
    vdev: vdev === undefined ? undefined : { status: vdev.status, statusNames: statusNames(vdev.status), dfeatures: vdev.dfeatures, gfeatures: vdev.gfeatures },
    vrings,
    messages,
    errors,
  };
}

function renderText(r: RpmsgImageReport): string {
  const out: string[] = [];
  out.push(`RPMsg region image at ${r.base}, resource table at ${r.rscTable} (version ${r.table.version}, ${r.table.entries.length} entries, ${r.table.size} bytes)`);
  for (const e of r.table.entries) out.push('  ' + JSON.stringify(e));
  if (r.vdev) out.push(`vdev status 0x${r.vdev.status.toString(16)} (${r.vdev.statusNames.join('|')}), dfeatures 0x${r.vdev.dfeatures.toString(16)}, gfeatures 0x${r.vdev.gfeatures.toString(16)}`);
  r.vrings.forEach((v, k) => {
    out.push('', `vring${k} (${k === 0 ? 'host RX / remote TX' : 'host TX / remote RX'}):`);
    out.push('error' in v ? `  ${v.error}: ${v.message}` : renderSplitText(v));
  });
  out.push('', `messages (${r.messages.length}):`);
  for (const m of r.messages) {
    const where = `vring${m.vring} ${m.state.padEnd(7)} head ${String(m.head).padStart(4)} @ ${m.addr}`;
    if (m.header === undefined) {
      out.push(`  ${where}  ! ${m.error}`);
      continue;
    }
    const h = m.header;
    out.push(`  ${where}  src ${h.src} -> dst ${h.dst}  len ${h.len}  flags 0x${h.flags.toString(16)}  reserved 0x${h.reserved.toString(16)}${m.error ? '  ! ' + m.error : ''}`);
    if (m.ns) out.push(`      name service ${m.ns.type.toUpperCase()} '${m.ns.name}' addr ${m.ns.addr}`);
    else if (m.payloadHex !== undefined) {
      const hexs = m.payloadHex.length > 128 ? m.payloadHex.slice(0, 128) + '…' : m.payloadHex;
      const text = m.text!.length > 64 ? m.text!.slice(0, 64) + '…' : m.text!;
      out.push(`      hex ${hexs}`, `      txt ${text}`);
    }
  }
  if (r.errors.length > 0) {
    out.push('', 'errors:');
    for (const e of r.errors) out.push(`  ${e.code}: ${e.message}`);
  }
  return out.join('\n');
}

/** The inspect command's entry point (dynamically imported by src/cli/commands/inspect.ts). */
export function inspectRpmsgImage(image: Uint8Array, opts: InspectOptions): string {
  const r = rpmsgImageReport(image, opts);
  return opts.json ? JSON.stringify(r, null, 2) : renderText(r);
}
