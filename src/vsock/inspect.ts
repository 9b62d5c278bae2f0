/**
 * `tz-virtio inspect IMAGE --layout split|packed … --vsock rx|tx|event [--json]`: decodes the buffers one vsock queue's
 * ring references as virtio_vsock_hdr packets (or events), on top of the ring report of src/virtio/inspect:
 *   tx    (driver → device): chains still available are packets the device has not taken yet ('pending'); used
 *         entries are packets it took (their buffers still hold them until the driver reuses them) — readable bytes.
 *   rx    (device → driver): used entries are packets the device wrote, bounded by used.len ('used'); available chains
 *         are empty buffers the driver posted ('posted', not decoded).
 *   event: used entries hold a u32 event id (0 = TRANSPORT_RESET).
 * Bad buffers (outside the image, shorter than a header, len beyond the buffer) are reported, never thrown.
 */
import type { PackedReport, SplitReport } from '../virtio/inspect/index.js';
import { imageMemory, type ImagePiece, type ImageRam } from '../virtio/inspect/image.js';
import { renderPackedText, renderSplitText } from '../virtio/inspect/text.js';
import type { PhysicalMemory } from '../virtio/memory.js';
import { VSOCK_EVENT_SIZE, VSOCK_HEADER_SIZE, VSOCK_OP_NAMES, VsockOp } from './constants.js';
import { VsockError, VsockErrorCode } from './errors.js';
import { decodeVsockHeader, type VsockHeader } from './header.js';

export type VsockQueueName = 'rx' | 'tx' | 'event';

export interface VsockInspectOptions {
  readonly queue: VsockQueueName;
  readonly base: number;
  readonly json: boolean;
  readonly pieces?: readonly ImagePiece[];
  readonly ram?: ImageRam;
}

export interface VsockPacketReport {
  readonly state: 'pending' | 'used' | 'posted';
  /** Split: the head descriptor index; packed: the buffer id. */
  readonly id: number;
  readonly addr: string;
  /** Bytes the packet may occupy (readable bytes for tx, used.len for rx). */
  readonly bytes: number;
  readonly header?: VsockHeader & { readonly opName: string; readonly typeName: string };
  readonly payloadHex?: string;
  readonly text?: string;
  readonly event?: { readonly id: number; readonly name: string };
  readonly error?: string;
}

export interface VsockRingReport {
  readonly queue: VsockQueueName;
  readonly ring: SplitReport | PackedReport;
  readonly packets: VsockPacketReport[];
}

interface Seg {
  addr: number;
  len: number;
  write: boolean;
}

const TYPE_NAMES: Readonly<Record<number, string>> = { 1: 'STREAM', 2: 'SEQPACKET' };

function printable(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  return s;
}

/** Gathers up to `limit` bytes of the segments (readable or writable ones) from the image; undefined when outside it. */
function gather(mem: PhysicalMemory, segs: readonly Seg[], write: boolean, limit: number): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (const s of segs) {
    if (s.write !== write || n >= limit) continue;
    const len = Math.min(s.len, limit - n);
    if (!mem.contains(s.addr, len)) return undefined;
    parts.push(mem.bytes(s.addr, len));
    n += len;
  }
  return Buffer.concat(parts);
}

function decodePacket(state: VsockPacketReport['state'], id: number, addr: string, bytes: Uint8Array | undefined, size: number): VsockPacketReport {
  if (bytes === undefined) return { state, id, addr, bytes: size, error: 'buffer is outside the image' };
  if (bytes.length < VSOCK_HEADER_SIZE) return { state, id, addr, bytes: bytes.length, error: `${bytes.length} bytes cannot hold a 44-byte header` };
  const h = decodeVsockHeader(bytes);
  const header = { ...h, opName: VSOCK_OP_NAMES[h.op] ?? `unknown op ${h.op}`, typeName: TYPE_NAMES[h.type] ?? `unknown type ${h.type}` };
  const room = bytes.length - VSOCK_HEADER_SIZE;
  const payload = bytes.subarray(VSOCK_HEADER_SIZE, VSOCK_HEADER_SIZE + Math.min(h.len, room));
  const rep: VsockPacketReport = { state, id, addr, bytes: bytes.length, header, payloadHex: Buffer.from(payload).toString('hex'), text: printable(payload) };
  if (h.len > room) return { ...rep, error: `header len ${h.len} exceeds the ${room} bytes after the header` };
  if (h.op !== VsockOp.RW && h.len !== 0) return { ...rep, error: `${header.opName} carries a payload` };
  return rep;
}

/** Follows a split chain from `head` through the descriptor table (NEXT only; bounded by the queue size). */
function splitChain(r: SplitReport, head: number): Seg[] {
  const segs: Seg[] = [];
  let i = head;
  for (let k = 0; k < r.queueSize && i < r.desc.length; k++) {
    const d = r.desc[i]!;
    segs.push({ addr: Number(BigInt(d.addr)), len: d.len, write: (d.flags & 2) !== 0 });
    if ((d.flags & 1) === 0) break;
    i = d.next;
  }
  return segs;
}

function toSegs(segments: readonly { addr: string; len: number; write: boolean }[]): Seg[] {
  return segments.map((s) => ({ addr: Number(BigInt(s.addr)), len: s.len, write: s.write }));
}

export function vsockRingReport(image: Uint8Array, ring: SplitReport | PackedReport, opts: Omit<VsockInspectOptions, 'json'>): VsockRingReport {
  if (!['rx', 'tx', 'event'].includes(opts.queue)) throw new VsockError(VsockErrorCode.IMAGE, `--vsock takes rx, tx or event, not '${opts.queue}'`);
  const mem = imageMemory(image, opts.base, opts.pieces ?? [], opts.ram).memory;
  const packets: VsockPacketReport[] = [];
  const q = opts.queue;
  const used = (id: number, segs: Seg[], usedLen: number): void => {
    const addr = segs[0] ? '0x' + segs[0].addr.toString(16) : '-';
    if (q === 'event') {
      const b = gather(mem, segs, true, VSOCK_EVENT_SIZE);
      if (b === undefined || b.length < VSOCK_EVENT_SIZE || usedLen < VSOCK_EVENT_SIZE) packets.push({ state: 'used', id, addr, bytes: usedLen, error: `event buffer of ${usedLen} bytes` });
      else {
        const ev = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
        packets.push({ state: 'used', id, addr, bytes: usedLen, event: { id: ev, name: ev === 0 ? 'TRANSPORT_RESET' : `unknown event ${ev}` } });
      }
    } else if (q === 'rx') packets.push(decodePacket('used', id, addr, gather(mem, segs, true, usedLen), usedLen));
    else packets.push(decodePacket('used', id, addr, gather(mem, segs, false, Infinity), 0));
  };
  const available = (id: number, segs: Seg[]): void => {
    const addr = segs[0] ? '0x' + segs[0].addr.toString(16) : '-';
    if (q === 'tx') packets.push(decodePacket('pending', id, addr, gather(mem, segs, false, Infinity), 0));
    else packets.push({ state: 'posted', id, addr, bytes: segs.reduce((n, s) => n + (s.write ? s.len : 0), 0) });
  };
  if (ring.layout === 'split') {
    const n = ring.queueSize;
    const count = Math.min(n, ring.used.idx);
    for (let i = count; i > 0; i--) {
      const e = ring.used.ring[(ring.used.idx - i) & (n - 1)]!;
      if (e.id >= n) packets.push({ state: 'used', id: e.id, addr: '-', bytes: e.len, error: `used id ${e.id} is not a descriptor index` });
      else used(e.id, splitChain(ring, e.id), e.len);
    }
    for (const c of ring.outstanding) {
      if ('error' in c) packets.push({ state: q === 'tx' ? 'pending' : 'posted', id: c.head, addr: '-', bytes: 0, error: `${c.error}: ${c.message}` });
      else available(c.head, toSegs(c.segments));
    }
  } else {
    for (const s of ring.decoded.states) {
      if (s.state !== 'used') continue;
      const d = ring.desc[s.index]!;
      // a slot never made available is all zeroes, which reads as used in lap 0
      if (d.flags === 0 && d.len === 0 && d.id === 0 && BigInt(d.addr) === 0n) continue;
      // a used packed descriptor holds the buffer id and the length the device wrote, not the length of what it read
      if (q === 'tx') packets.push({ state: 'used', id: d.id, addr: d.addr, bytes: 0, error: 'taken by the device (a used packed descriptor does not keep the packet length)' });
      else used(d.id, [{ addr: Number(BigInt(d.addr)), len: d.len, write: true }], d.len);
    }
    for (const c of ring.decoded.chains) {
      if ('error' in c) packets.push({ state: q === 'tx' ? 'pending' : 'posted', id: c.index, addr: '-', bytes: 0, error: `${c.error}: ${c.message}` });
      else available(c.id, toSegs(c.segments));
    }
  }
  return { queue: q, ring, packets };
}

function renderText(r: VsockRingReport): string {
  const out: string[] = [r.ring.layout === 'split' ? renderSplitText(r.ring) : renderPackedText(r.ring), '', `vsock ${r.queue} queue: ${r.packets.length} buffers`];
  for (const p of r.packets) {
    const where = `  ${p.state.padEnd(7)} id ${String(p.id).padStart(4)} @ ${p.addr}`;
    if (p.event) out.push(`${where}  event ${p.event.id} (${p.event.name})`);
    else if (p.header) {
      const h = p.header;
      out.push(
        `${where}  ${h.opName} ${h.typeName} ${h.srcCid}:${h.srcPort} -> ${h.dstCid}:${h.dstPort} len ${h.len} flags 0x${h.flags.toString(16)} buf_alloc ${h.bufAlloc} fwd_cnt ${h.fwdCnt}${p.error ? '  ! ' + p.error : ''}`,
      );
      if (p.payloadHex) {
        out.push(`      hex ${p.payloadHex.length > 128 ? p.payloadHex.slice(0, 128) + '…' : p.payloadHex}`, `      txt ${p.text!.length > 64 ? p.text!.slice(0, 64) + '…' : p.text!}`);
      }
    } else out.push(`${where}  ${p.error ?? `empty buffer of ${p.bytes} bytes`}`);
  }
  return out.join('\n') + '\n';
}

/** The inspect command's entry point (dynamically imported by src/cli/commands/inspect.ts). */
export function inspectVsockRing(image: Uint8Array, ring: SplitReport | PackedReport, opts: VsockInspectOptions): string {
  const r = vsockRingReport(image, ring, opts);
  return opts.json ? JSON.stringify(r, null, 2) + '\n' : renderText(r);
}
