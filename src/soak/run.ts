/**
 * `tz-virtio soak`: boots the machine (hypervisor model, both partitions in their workers) with the soak guests —
 * the non-secure sender streams sequence-numbered, CRC-checked messages of random sizes through RPMsg to the secure
 * receiver — and reports lost / duplicated / corrupted messages and memory at start and end, for one or both core
 * modes (1: one core token shared by both worlds; 2: a core per world).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../hypervisor/machine.js';
import { compiledUrl } from '../host/compiled.js';

export interface SoakOptions {
  readonly messages: number;
  readonly cores: 1 | 2;
  /** Unacknowledged messages allowed in flight (default 64). */
  readonly window?: number;
  readonly seed?: number;
  /** Body sizes are uniform in [minBody, maxBody] (capped by the buffer's payload; default 0 .. the cap). */
  readonly minBody?: number;
  readonly maxBody?: number;
  /** Receiver acknowledges every ackEvery messages (default 16). */
  readonly ackEvery?: number;
  /** Backpressure check: the receiver stops reading for pauseMs after pauseAtMessage messages. */
  readonly pauseAtMessage?: number;
  readonly pauseMs?: number;
  /** The sender gives up after this long without an acknowledgement (default 10 s). */
  readonly stallTimeoutMs?: number;
  readonly rpmsg?: { numBuffers?: number; bufferSize?: number };
  readonly timeoutMs?: number;
}

export interface SoakResult {
  readonly cores: 1 | 2;
  readonly messages: number;
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  /** Sent but not delivered when the run ended (non-zero only when the sender timed out). */
  readonly unacknowledged: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly corrupted: number;
  readonly bytes: number;
  readonly timeout: boolean;
  readonly senderWaits: number;
  readonly elapsedMs: number;
  readonly messagesPerSecond: number;
  readonly memory: {
    readonly sender: { heapStart: number; heapEnd: number; heapMax: number };
    readonly receiver: { heapStart: number; heapEnd: number; heapMax: number };
    readonly host: { rssStart: number; rssEnd: number };
  };
  readonly crashes: string[];
  readonly ok: boolean;
}

function guestPath(file: string): string {
  const url = compiledUrl(import.meta.url, `./${file}`);
  const p = fileURLToPath(url);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first`);
  return p;
}

function num(stats: unknown, key: string): number {
  const v = (stats as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'number' ? v : 0;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const rssStart = process.memoryUsage().rss;
  const r = await runMachine({
    cores: o.cores,
    secure: {
      module: guestPath('guest-receiver.js'),
      args: { ackEvery: o.ackEvery ?? 16, pauseAtMessage: o.pauseAtMessage ?? -1, pauseMs: o.pauseMs ?? 0 },
    },
    nonsecure: {
      module: guestPath('guest-sender.js'),
      args: {
        messages: o.messages,
        window: o.window ?? 64,
        seed: o.seed ?? 1,
        minBody: o.minBody ?? 0,
        maxBody: o.maxBody ?? 1 << 16,
        stallTimeoutUs: (o.stallTimeoutMs ?? 10_000) * 1000,
      },
    },
    rpmsg: o.rpmsg ?? {},
    timeoutMs: o.timeoutMs ?? 3_600_000,
  });
  const snd = r.nonsecure.report?.['user'];
  const rcv = r.secure.report?.['user'];
  const sent = num(snd, 'soak.sent');
  const delivered = num(rcv, 'soak.delivered');
  const duplicated = num(rcv, 'soak.duplicated');
  const corrupted = num(rcv, 'soak.corrupted') + num(snd, 'soak.ackCorrupted');
  const acked0 = num(snd, 'soak.acked');
  // Lost: gaps the receiver saw, and messages the sender saw acknowledged that were not delivered. Messages sent but
  // unacknowledged when the sender gave up (timeout) are reported apart: still in the ring, not lost.
  const lost = num(rcv, 'soak.lost') + Math.max(0, acked0 - delivered);
  const elapsedMs = num(snd, 'soak.elapsedUs') / 1000;
  const timeout = num(snd, 'soak.timeout') === 1;
  const crashes = [r.secure.crash, r.nonsecure.crash].filter((c): c is string => c !== undefined);
  const acked = acked0;
  return {
    cores: o.cores,
    messages: o.messages,
    sent,
    acked,
    delivered,
    unacknowledged: Math.max(0, sent - acked),
    lost,
    duplicated,
    corrupted,
    bytes: num(rcv, 'soak.bytes'),
    timeout,
    senderWaits: num(snd, 'soak.waits'),
    elapsedMs,
    messagesPerSecond: elapsedMs > 0 ? Math.round(delivered / (elapsedMs / 1000)) : 0,
    memory: {
      sender: { heapStart: num(snd, 'soak.heapStart'), heapEnd: num(snd, 'soak.heapEnd'), heapMax: num(snd, 'soak.heapMax') },
      receiver: { heapStart: num(rcv, 'soak.heapStart'), heapEnd: num(rcv, 'soak.heapEnd'), heapMax: num(rcv, 'soak.heapMax') },
      host: { rssStart, rssEnd: process.memoryUsage().rss },
    },
    crashes,
    ok: crashes.length === 0 && !r.timedOut && !timeout && lost === 0 && duplicated === 0 && corrupted === 0 && acked === o.messages && delivered === o.messages,
  };
}

const MiB = 1024 * 1024;

export function formatSoak(s: SoakResult): string {
  const m = s.memory;
  return [
    `soak, ${s.cores} core${s.cores === 1 ? '' : 's'}: ${s.messages} messages (random sizes, sequence number + CRC-32 on each)`,
    `  sent ${s.sent}, acknowledged ${s.acked}, delivered ${s.delivered}`,
    `  lost ${s.lost}, duplicated ${s.duplicated}, corrupted ${s.corrupted}` +
      (s.timeout ? `; SENDER TIMED OUT (backpressure) with ${s.unacknowledged} unacknowledged` : ''),
    `  ${(s.elapsedMs / 1000).toFixed(1)} s, ${s.messagesPerSecond} msg/s, ${(s.bytes / MiB).toFixed(1)} MiB, sender waited ${s.senderWaits} times`,
    `  memory: sender heap ${(m.sender.heapStart / MiB).toFixed(1)} -> ${(m.sender.heapEnd / MiB).toFixed(1)} MiB (max ${(m.sender.heapMax / MiB).toFixed(1)}), ` +
      `receiver heap ${(m.receiver.heapStart / MiB).toFixed(1)} -> ${(m.receiver.heapEnd / MiB).toFixed(1)} MiB (max ${(m.receiver.heapMax / MiB).toFixed(1)}), ` +
      `process rss ${(m.host.rssStart / MiB).toFixed(0)} -> ${(m.host.rssEnd / MiB).toFixed(0)} MiB`,
    ...s.crashes.map((c) => `  CRASH ${c}`),
    `  result ${s.ok ? 'OK' : 'FAILED'}`,
  ].join('\n');
}
