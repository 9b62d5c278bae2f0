import { PhysicalMemory } from '../../src/virtio/memory.js';
import { planRpmsgRegion, writeResourceTable, type PlanOptions, type RpmsgLayout } from '../../src/rpmsg/layout.js';
import { RpmsgHost, type RpmsgHostOptions } from '../../src/rpmsg/host.js';
import { RpmsgRemote, type RpmsgRemoteOptions } from '../../src/rpmsg/remote.js';

export const BASE = 0x1000_0000;

export interface Pair {
  memory: PhysicalMemory;
  layout: RpmsgLayout;
  host: RpmsgHost;
  remote: RpmsgRemote;
  /** Notifications each side sent, by vq index. */
  hostNotified: number[];
  remoteNotified: number[];
}

/** Host and remote over one memory, in one thread; the caller polls. */
export function makePair(
  plan: Partial<PlanOptions> = {},
  hostOpts: Partial<RpmsgHostOptions> = {},
  remoteOpts: Partial<RpmsgRemoteOptions> = {},
): Pair {
  const layout = planRpmsgRegion({ base: BASE, ...plan });
  const memory = new PhysicalMemory([{ name: 'ipc', base: BASE, size: layout.size }]);
  writeResourceTable(memory, layout);
  const hostNotified = [0, 0];
  const remoteNotified = [0, 0];
  const host = new RpmsgHost(memory, layout, { transport: { notify: (q) => hostNotified[q]!++ }, ...hostOpts });
  const remote = new RpmsgRemote(memory, layout.rscTable, { transport: { notify: (q) => remoteNotified[q]!++ }, ...remoteOpts });
  return { memory, layout, host, remote, hostNotified, remoteNotified };
}

/** Starts the host and lets the remote attach. */
export function startPair(p: Pair): void {
  p.host.start();
  p.remote.poll();
  if (!p.remote.ready) throw new Error('remote did not attach: ' + String(p.remote.lastError));
}

/** Polls both sides until neither has anything to do. */
export function pump(p: Pair, rounds = 8): void {
  for (let i = 0; i < rounds; i++) {
    const n = p.remote.poll() + p.host.poll();
    if (n === 0) return;
  }
}

export function bytes(...v: number[]): Uint8Array {
  return new Uint8Array(v);
}

export function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A payload with a sequence number and a checksum: [seq u32][sum u32][body...]. */
export function makePayload(seq: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 8; i < size; i++) b[i] = (seq * 31 + i * 7) & 0xff;
  const v = new DataView(b.buffer);
  if (size >= 4) v.setUint32(0, seq, true);
  if (size >= 8) v.setUint32(4, checksum(b.subarray(8)), true);
  return b;
}

export function checksum(b: Uint8Array): number {
  let s = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) s = Math.imul(s ^ b[i]!, 0x01000193) >>> 0;
  return s;
}

/** Checks a payload from makePayload; returns its sequence number. */
export function checkPayload(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const seq = v.getUint32(0, true);
  if (v.getUint32(4, true) !== checksum(b.subarray(8))) throw new Error(`checksum mismatch at seq ${seq}`);
  return seq;
}
