/**
 * The run report: one summary object (what `tz-virtio run --json` prints) built from a MachineResult, and its text
 * rendering. Message and round-trip figures come from the non-secure partition's ctx.stats (keys
 * `messages.sent/received/lost/corrupted`, `rtt.p50/p99`, `throughputMBps`, `securityFaults.attempted`), as the
 * default client sets them; a user partition that sets the same keys gets the same report. Security faults
 * *blocked* are the hypervisor's own records, not the guest's word.
 */
import { cpus, loadavg } from 'node:os';
import { hex } from '../virtio/memory.js';
import type { MonitorSnapshot } from './monitor.js';
import type { MachineResult } from './machine.js';
import type { RtTaskStats } from '../guest/rt.js';
import { round, EMPTY_SUMMARY, type Summary } from '../guest/stats.js';
import { deviceReports, formatDeviceReports, type DeviceReport } from './device-report.js';

export interface RunSummary {
  readonly ok: boolean;
  readonly problems: string[];
  /** What qualifies an OK run: the secure RT tasks missed deadlines (the result line says so; the exit code stays 0). */
  readonly warnings: string[];
  /** Two plain lines: what the scenario did (the first lines of the text report). */
  readonly story: string[];
  /** Every RT job of the secure world ended by its deadline. */
  readonly rtDeadlinesMet: boolean;
  /** The host's load when the run ended (1-minute load average, CPUs): the context of the RT figures. */
  readonly hostLoad: { loadavg1: number; cpus: number };
  readonly cores: number;
  readonly durationMs: number;
  readonly memoryMap: readonly string[];
  readonly features: string[];
  readonly messages: { sent: number; received: number; lost: number; corrupted: number };
  /** Every VirtIO device of the channel (RPMsg included): transport, messages, bytes, notifications (device-report.ts). */
  readonly devices: readonly DeviceReport[];
  readonly throughputMBps: number;
  readonly rttUs: { p50: number; p99: number; mean: number; max: number };
  /** Whether the non-secure guest set the figures (throughputMBps, rtt.*); unset ones are 0 in JSON, "n/a" in text. */
  readonly measured: { throughput: boolean; rtt: boolean };
  readonly worldSwitches: number;
  readonly smc: MonitorSnapshot['smc'] | Record<string, never>;
  readonly timePerWorldMs: { secure: number; nonsecure: number };
  readonly preemptionLatencyUs: { count: number; p50: number; p99: number; max: number; timeouts: number };
  readonly rtTask: { name: string; periodUs: number; jobs: number; deadlineMisses: number; maxJitterUs: number; p99JitterUs: number };
  readonly rtTasks: RtTaskStats[];
  /** The secure executive: wake-up lead, how late the OS woke it, time spun to releases, service steps held back. */
  readonly rtExecutive: {
    wakeLeadUs: number;
    /** Adaptive lead: base (configured minimum), bound, mean and peak over the run; idle mode of the secure core. */
    wakeLead: { adaptive: boolean; baseUs: number; maxUs: number; meanUs: number; peakUs: number; capped: number };
    idle: string;
    wakeLateUs: { p50: number; p99: number; max: number };
    lateWaits: number;
    spinMs: number;
    serviceSteps: number;
    serviceDeferred: number;
    serviceOverruns: number;
  };
  /**
   * GC pauses in each partition worker (V8 GC profiler); secureServing: the secure worker after its main returned
   * (the executive's steady state); securePerKMessages: those per 1000 messages received.
   */
  readonly gc: { secure: GcLine; secureServing: GcLine; nonsecure: GcLine; securePerKMessages: number };
  readonly securityFaults: { attempted: number; blocked: number; records: Array<{ addr: string; len: number; world: string; access: string }> };
  readonly keyAddress: string | undefined;
  readonly keyLeaked: boolean;
  readonly partitions: { secure: PartitionLine; nonsecure: PartitionLine };
  readonly scenario: string | undefined;
  /** Two cores: virtio notifications sent as SGIs through the distributor, and acknowledged by each core's interface. */
  readonly sgi: { toSecure: number; toNonSecure: number; receivedByNonSecure: number; acknowledgedSecure: number; acknowledgedNonSecure: number };
  /** Two cores: time per core (its world running vs waiting for an interrupt); the non-secure figures are its own report. */
  readonly perCoreMs: Array<{ core: number; world: string; busy: number; idle: number }>;
  /** Attack attempts the non-secure guest recorded (ctx.stats.attack, or its "attack.<n>.<name>" counters). */
  readonly attacks: Array<{ name: string; outcome: string; stopped: boolean }>;
  /** What the platform recorded as blocked, from trusted records (hypervisor, secure core, secure RPMsg device). */
  readonly blocked: Defences;
  /** Reboots of the non-secure partition (crash recovery). */
  readonly reboots: Array<{ boot: number; atMs: number; reason: string; secureAcked: boolean }>;
  /**
   * Exceptions each partition's runtime caught and went on (interrupt handlers, timers, RT jobs, service steps, the
   * RPMsg link): count and the first lines. Any on the secure side fails the run: the trusted side must not throw.
   */
  readonly runtimeErrors: { secure: ErrorLines; nonsecure: ErrorLines };
  /** Where the partitions ran: worker threads of one process, or one OS process each (secure first, then each non-secure boot). */
  readonly isolation: { mode: 'worker' | 'process'; processes: Array<{ world: string; pid: number }> };
}

export interface Defences {
  /** Non-secure accesses to secure memory refused (hypervisor records), by access kind. */
  readonly securityFaults: { read: number; write: number };
  /** Non-secure accesses to unbacked addresses refused. */
  readonly busErrors: number;
  /** SMCs refused at the non-secure monitor entry (unknown call, bad argument), by call. */
  readonly smcRefused: Record<string, number>;
  /** Malformed mailbox requests the secure core dropped (unknown bits, bad virtqueue numbers). */
  readonly invalidRequests: number;
  /** Non-secure notifications: issued (non-secure count), seen by the secure core after coalescing, over the rate limit, waits with the line masked. */
  readonly notifications: { issued: number; seen: number; coalesced: number; rateLimited: number; maskedWaits: number };
  /** Ring rule violations the secure RPMsg device refused (each: DEVICE_NEEDS_RESET), malformed messages dropped, link resets. */
  readonly ringViolations: number;
  readonly malformedDropped: number;
  readonly linkResets: number;
}

export interface ErrorLines {
  readonly count: number;
  readonly first: string[];
}

const errorLines = (rep: Record<string, unknown>): ErrorLines => ({
  count: num(rep['handlerErrors']),
  first: Array.isArray(rep['errors']) ? (rep['errors'] as unknown[]).filter((l): l is string => typeof l === 'string') : [],
});

interface GcLine {
  readonly count: number;
  readonly major: number;
  readonly minor: number;
  readonly totalMs: number;
  readonly maxMs: number;
}

const gcLine = (v: unknown): GcLine => {
  const g = (v ?? {}) as Record<string, unknown>;
  return { count: num(g['count']), major: num(g['major']), minor: num(g['minor']), totalMs: num(g['totalMs']), maxMs: num(g['maxMs']) };
};

interface PartitionLine {
  readonly status: string;
  readonly error?: string;
  readonly stats: Record<string, unknown>;
}

const num = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);

export interface SummarizeOptions {
  readonly scenario?: string;
  /** Judge the run on its attacks (each must be stopped) instead of a message stream. */
  readonly adversarial?: boolean;
}

function collectAttacks(rep: Record<string, unknown>, user: Record<string, unknown>): RunSummary['attacks'] {
  const out: RunSummary['attacks'] = [];
  const recs = rep['attacks'];
  if (Array.isArray(recs)) {
    for (const a of recs as Array<Record<string, unknown>>) {
      if (typeof a?.['name'] === 'string') out.push({ name: a['name'], outcome: String(a['outcome'] ?? ''), stopped: a['stopped'] !== false });
    }
  }
  // the older convention: user stats "attack.<n>.<name>" = "stopped: <outcome>" | "NOT STOPPED: <outcome>"
  const legacy = Object.entries(user)
    .map(([k, v]) => [/^attack\.(\d+)\.(.+)$/.exec(k), v] as const)
    .filter((e): e is readonly [RegExpExecArray, unknown] => e[0] !== null)
    .sort((a, b) => Number(a[0][1]) - Number(b[0][1]));
  for (const [m, v] of legacy) {
    const text = String(v);
    const stopped = /^stopped/i.test(text);
    out.push({ name: m[2]!, outcome: text.replace(/^(stopped|NOT STOPPED):\s*/i, ''), stopped });
  }
  return out;
}

function collectDefences(r: MachineResult, sRep: Record<string, unknown>, nRep: Record<string, unknown>): Defences {
  const sPort = (sRep['port'] ?? {}) as Record<string, unknown>;
  const nPort = (nRep['port'] ?? {}) as Record<string, unknown>;
  const sLink = (sRep['rpmsg'] ?? {}) as Record<string, unknown>;
  const nsFaults = r.faults.filter((f) => f.world === 'nonsecure');
  const issued = num(((nPort['smc'] ?? {}) as Record<string, unknown>)['notify']);
  const seen = num(sPort['nsNotifies']);
  return {
    securityFaults: {
      read: nsFaults.filter((f) => f.kind === 'security' && f.access === 'read').length,
      write: nsFaults.filter((f) => f.kind === 'security' && f.access === 'write').length,
    },
    busErrors: nsFaults.filter((f) => f.kind === 'bus').length,
    smcRefused: Object.fromEntries(Object.entries((nPort['smcRefused'] ?? {}) as Record<string, unknown>).map(([k, v]) => [k, num(v)])),
    invalidRequests: num(sPort['invalidRequests']),
    notifications: { issued, seen, coalesced: Math.max(0, issued - seen), rateLimited: num(sPort['rateLimitedNotifies']), maskedWaits: num(sPort['maskedWaits']) },
    ringViolations: num(sLink['peerErrors']),
    malformedDropped: num(sLink['droppedMalformed']),
    linkResets: num(sLink['resets']),
  };
}

export function summarize(r: MachineResult, opts: SummarizeOptions = {}): RunSummary {
  const sRep = r.secure.report ?? {};
  const nRep = r.nonsecure.report ?? {};
  const nUser = (nRep['user'] ?? {}) as Record<string, unknown>;
  const sUser = (sRep['user'] ?? {}) as Record<string, unknown>;
  const mon = ((sRep['port'] ?? {}) as { monitor?: MonitorSnapshot }).monitor;
  const rt = (sRep['rt'] ?? []) as RtTaskStats[];
  const t0 = rt[0];
  const pl: Summary = mon?.preemptionLatencyUs ?? EMPTY_SUMMARY;
  const secFaults = r.faults.filter((f) => f.kind === 'security' && f.world === 'nonsecure');
  const rpmsgStats = (nRep['rpmsg'] ?? sRep['rpmsg'] ?? {}) as { features?: string[] };
  const sent = num(nUser['messages.sent']);
  const received = num(nUser['messages.received']);
  const messages = { sent, received, lost: num(nUser['messages.lost'], sent - received), corrupted: num(nUser['messages.corrupted']) };
  const attempted = num(nUser['securityFaults.attempted'], secFaults.length);
  const line = (p: MachineResult['secure']): PartitionLine => ({
    status: p.crash !== undefined && p.outcome === undefined ? 'crashed' : (p.outcome?.status ?? 'unknown'),
    ...(p.outcome?.error !== undefined ? { error: p.outcome.error } : p.crash !== undefined ? { error: p.crash } : {}),
    stats: ((p.report ?? {})['user'] ?? {}) as Record<string, unknown>,
  });
  const sPort = (sRep['port'] ?? {}) as { wakeLeadUs?: number; wakeLead?: Record<string, unknown>; idleMode?: string; wakeLateUs?: Summary; lateWaits?: number; spinUs?: number };
  const lead = sPort.wakeLead ?? {};
  const bgs = (sRep['background'] ?? []) as Array<{ steps: number; deferred: number; overruns: number }>;
  const wl = sPort.wakeLateUs ?? EMPTY_SUMMARY;
  const rtExecutive = {
    wakeLeadUs: num(sPort.wakeLeadUs),
    wakeLead: {
      adaptive: lead['adaptive'] === true,
      baseUs: num(lead['baseUs'], num(sPort.wakeLeadUs)),
      maxUs: num(lead['maxUs'], num(sPort.wakeLeadUs)),
      meanUs: num(lead['meanUs'], num(sPort.wakeLeadUs)),
      peakUs: num(lead['peakUs'], num(sPort.wakeLeadUs)),
      capped: num(lead['capped']),
    },
    idle: typeof sPort.idleMode === 'string' ? sPort.idleMode : 'sleep',
    wakeLateUs: { p50: round(wl.p50), p99: round(wl.p99), max: round(wl.max) },
    lateWaits: num(sPort.lateWaits),
    spinMs: round(num(sPort.spinUs) / 1000, 2),
    serviceSteps: bgs.reduce((a, b) => a + num(b.steps), 0),
    serviceDeferred: bgs.reduce((a, b) => a + num(b.deferred), 0),
    serviceOverruns: bgs.reduce((a, b) => a + num(b.overruns), 0),
  };
  const sP = (sRep['port'] ?? {}) as Record<string, unknown>;
  const nP = (nRep['port'] ?? {}) as Record<string, unknown>;
  const sSgi = (sP['sgi'] ?? {}) as Record<string, unknown>;
  const sgi = {
    toSecure: num(sSgi['toSecure']),
    toNonSecure: num(sSgi['toNonSecure']),
    receivedByNonSecure: num(nP['sgiReceived']),
    acknowledgedSecure: num(sP['gicAcknowledged']),
    acknowledgedNonSecure: num(nP['gicAcknowledged']),
  };
  const perCoreMs =
    r.cores === 2
      ? [
          { core: 0, world: 'secure', busy: round((num(sP['upUs']) - num(sP['idleUs'])) / 1000, 2), idle: round(num(sP['idleUs']) / 1000, 2) },
          {
            core: 1,
            world: 'nonsecure',
            busy: round((num(nP['upUs']) - num(nP['wfiUs']) - num(nP['parkedUs'])) / 1000, 2),
            idle: round((num(nP['wfiUs']) + num(nP['parkedUs'])) / 1000, 2),
          },
        ]
      : [];
  const attacks = collectAttacks(nRep, nUser);
  const blocked = collectDefences(r, sRep, nRep);
  const problems: string[] = [];
  if (opts.adversarial) {
    if (attacks.length === 0) problems.push('the non-secure partition recorded no attack');
    for (const a of attacks) if (!a.stopped) problems.push(`attack ${a.name} was not stopped: ${a.outcome}`);
  }
  if (r.timedOut) problems.push('the run timed out');
  if (r.secure.outcome?.status === 'threw') problems.push(`secure partition failed: ${r.secure.outcome.error}`);
  if (r.secure.report === undefined) problems.push(`secure partition gave no report (${r.secure.crash ?? 'unknown'})`);
  if (r.nonsecure.outcome?.status === 'threw' || r.nonsecure.outcome === undefined) problems.push(`non-secure partition failed: ${r.nonsecure.outcome?.error ?? r.nonsecure.crash ?? 'unknown'}`);
  const runtimeErrors = { secure: errorLines(sRep), nonsecure: errorLines(nRep) };
  if (runtimeErrors.secure.count > 0) {
    const e = runtimeErrors.secure;
    problems.push(`the secure runtime caught ${e.count} error${e.count === 1 ? '' : 's'}${e.first[0] !== undefined ? ` (first: ${e.first[0]})` : ''}`);
  }
  if (messages.lost > 0) problems.push(`${messages.lost} messages lost`);
  if (messages.corrupted > 0) problems.push(`${messages.corrupted} answers failed their check`);
  const devices = deviceReports(r);
  for (const d of devices) {
    // RPMsg is judged by the message stream above; a device's `lost` includes what was in flight when the run
    // stopped (a stream device keeps sending), so only refused buffers fail the run here
    if (d.type === 'rpmsg') continue;
    if (d.messages.corrupted > 0) problems.push(`${d.type}: ${d.messages.corrupted} malformed buffers refused`);
  }
  if (nUser['keyLeaked'] === true) problems.push('the secure key was readable from the non-secure partition');
  if (attempted > secFaults.length) problems.push(`${attempted - secFaults.length} secure accesses were not recorded as faults`);
  const rtMisses = rt.reduce((a, t) => a + num(t.deadlineMisses), 0);
  // releases = jobs run + releases skipped (already over when the executive got to them; each is a miss)
  const rtReleases = rt.reduce((a, t) => a + num(t.jobs) + num(t.skippedReleases), 0);
  const hostLoad = { loadavg1: round(loadavg()[0] ?? 0, 2), cpus: cpus().length };
  const warnings: string[] = [];
  if (rtMisses > 0) warnings.push(`the secure RT tasks missed ${rtMisses} of ${rtReleases} deadlines (${round((100 * rtMisses) / Math.max(1, rtReleases), 1)} %): the real-time guarantee was not met on this host (see "rt misses")`);
  const partial = {
    cores: r.cores,
    scenario: opts.scenario,
    messages,
    attacks,
    keyAddress: typeof sUser['keyAddress'] === 'string' ? sUser['keyAddress'] : undefined,
    keyLeaked: nUser['keyLeaked'] === true,
    attempted,
    blocked: secFaults.length,
    secureUser: sUser,
  };
  return {
    ok: problems.length === 0,
    problems,
    warnings,
    story: storyOf(partial),
    rtDeadlinesMet: rtMisses === 0,
    hostLoad,
    cores: r.cores,
    durationMs: round(r.durationMs, 1),
    memoryMap: r.memoryMap,
    features: rpmsgStats.features ?? [],
    messages,
    devices,
    throughputMBps: round(num(nUser['throughputMBps']), 3),
    rttUs: { p50: round(num(nUser['rtt.p50'])), p99: round(num(nUser['rtt.p99'])), mean: round(num(nUser['rtt.mean'])), max: round(num(nUser['rtt.max'])) },
    measured: { throughput: typeof nUser['throughputMBps'] === 'number', rtt: typeof nUser['rtt.p50'] === 'number' },
    gc: {
      secure: gcLine(sRep['gc']),
      nonsecure: gcLine(nRep['gc']),
      secureServing: gcLine(((sRep['gc'] ?? {}) as Record<string, unknown>)['serve']),
      securePerKMessages: received > 0 ? round((1000 * gcLine(((sRep['gc'] ?? {}) as Record<string, unknown>)['serve']).count) / received, 1) : 0,
    },
    worldSwitches: mon?.worldSwitches ?? 0,
    smc: mon?.smc ?? {},
    timePerWorldMs: { secure: round((mon?.timeUs.secure ?? 0) / 1000, 2), nonsecure: round((mon?.timeUs.nonsecure ?? 0) / 1000, 2) },
    preemptionLatencyUs: { count: pl.count, p50: round(pl.p50), p99: round(pl.p99), max: round(pl.max), timeouts: mon?.preemptionTimeouts ?? 0 },
    rtTask: {
      name: t0?.name ?? '',
      periodUs: t0?.periodUs ?? 0,
      jobs: t0?.jobs ?? 0,
      deadlineMisses: t0?.deadlineMisses ?? 0,
      maxJitterUs: round(t0?.jitterUs.max ?? 0),
      p99JitterUs: round(t0?.jitterUs.p99 ?? 0),
    },
    rtTasks: rt,
    rtExecutive,
    securityFaults: {
      attempted,
      blocked: secFaults.length,
      records: secFaults.slice(0, 10).map((f) => ({ addr: hex(f.addr), len: f.len, world: f.world, access: f.access })),
    },
    keyAddress: typeof sUser['keyAddress'] === 'string' ? sUser['keyAddress'] : undefined,
    keyLeaked: nUser['keyLeaked'] === true,
    partitions: { secure: line(r.secure), nonsecure: line(r.nonsecure) },
    scenario: opts.scenario,
    sgi,
    perCoreMs,
    attacks,
    blocked,
    reboots: (r.reboots ?? []).map((b) => ({ boot: b.boot, atMs: b.atMs, reason: b.reason, secureAcked: b.secureAcked })),
    isolation: { mode: r.isolation, processes: r.processes.map((p) => ({ world: p.world, pid: p.pid })) },
    runtimeErrors,
  };
}

interface StoryFacts {
  readonly cores: number;
  readonly scenario: string | undefined;
  readonly messages: RunSummary['messages'];
  readonly attacks: RunSummary['attacks'];
  readonly keyAddress: string | undefined;
  readonly keyLeaked: boolean;
  readonly attempted: number;
  readonly blocked: number;
  readonly secureUser: Record<string, unknown>;
}

/** Two plain lines on what the run did, from the scenario and its counters (never claims what the counters do not show). */
export function storyOf(f: StoryFacts): string[] {
  const m = f.messages;
  const answers = m.lost === 0 && m.corrupted === 0 ? `got all ${m.received} answers back and checked them` : `got ${m.received} answers back (${m.lost} lost, ${m.corrupted} failed their check)`;
  const key = f.keyLeaked ? 'and READ THE KEY (leak)' : f.attempted > 0 ? `and its ${f.attempted} attempt${f.attempted === 1 ? '' : 's'} to read the key ${f.blocked >= f.attempted ? (f.attempted === 1 ? 'was' : 'were') + ' refused (SecurityFault)' : `were refused only ${f.blocked} times`}` : 'and never tried to read the key';
  switch (f.scenario) {
    case 'default':
      return [
        `The secure world ran an Ed25519 signing service whose private key lives only in secure RAM${f.keyAddress ? ` (${f.keyAddress})` : ''}, next to a 1 kHz sensor task.`,
        `The non-secure client sent ${m.sent} sign/verify requests over RPMsg (${num(f.secureUser['signed'])} signed, ${num(f.secureUser['verified'])} verified), ${answers}, ${key}.`,
      ];
    case 'hostile': {
      const stopped = f.attacks.filter((a) => a.stopped).length;
      return [
        `The secure signing service (key only in secure RAM${f.keyAddress ? `, ${f.keyAddress}` : ''}) faced a compromised non-secure partition.`,
        `It tried ${f.attacks.length} attacks on memory, SMCs, interrupts and the shared rings; ${stopped} of them ${stopped === 1 ? 'was' : 'were'} stopped${f.keyLeaked ? ', but the KEY LEAKED' : ', and the key never left the secure world'}.`,
      ];
    }
    case 'echo':
      return ['The secure world ran the echo example: an "echo" RPMsg service and a 2 ms RT task.', `The non-secure client sent ${m.sent} messages and ${answers}.`];
    default:
      return [
        `Your secure and non-secure partitions ran on ${f.cores === 1 ? 'one core shared by both worlds' : 'two cores, one per world'}.`,
        m.sent > 0 || m.received > 0 ? `The non-secure side reported ${m.sent} messages sent and ${m.received} received (its ctx.stats messages.*).` : 'The non-secure side reported no message counts (set ctx.stats messages.sent/received to see them here).',
      ];
  }
}

/** One line each on the terms of the report, for a newcomer. */
export const TERMS: readonly string[] = [
  'world switch         the secure monitor hands the core from one world to the other (on an SMC, or when a FIQ takes it back)',
  'FIQ / IRQ            the secure / non-secure world\'s interrupts; a FIQ preempts the non-secure world, an IRQ never preempts the secure one',
  'preemption latency   how long the non-secure world took to reach a point where the secure world could take the core back',
  'more                 docs/partitions.md (the platform model), docs/benchmarks.md (the figures)',
];

/** Why RT deadlines are missed in this model, in plain words (the report's "rt misses" lines). */
function rtMissLines(s: RunSummary): string[] {
  const misses = s.rtTasks.reduce((a, t) => a + t.deadlineMisses, 0);
  const jobs = s.rtTasks.reduce((a, t) => a + t.jobs, 0);
  const skipped = s.rtTasks.reduce((a, t) => a + t.skippedReleases, 0);
  return [
    `rt misses           ${misses} of ${jobs + skipped} releases missed their deadline (${jobs} jobs ran${skipped > 0 ? `, ${skipped} releases were already over and skipped` : ''}). Why here: the secure world is a thread`,
    `                    that the host OS schedules among others (load ${s.hostLoad.loadavg1} on ${s.hostLoad.cpus} CPUs); a job is late when the OS wakes it late (p99 ${s.rtExecutive.wakeLateUs.p99} µs this run),`,
    `                    a GC pause or another process holds the CPU. On the board the secure world owns its core and its FIQ preempts the non-secure world in microseconds.`,
  ];
}

export function formatSummary(s: RunSummary): string {
  const L: string[] = [];
  L.push(`tz-virtio: LTZVisor-style TrustZone model${s.scenario ? `, scenario ${s.scenario}` : ''}, ${s.cores === 1 ? '1 core (core token shared by both worlds)' : '2 cores (secure on core 0, non-secure on core 1)'}`);
  for (const l of s.story) L.push(`  ${l}`);
  L.push('');
  L.push('memory map');
  for (const m of s.memoryMap) L.push(`  ${m}`);
  if (s.keyAddress) L.push(`  secure key at ${s.keyAddress}`);
  L.push('');
  L.push(`rpmsg features      ${s.features.join(', ') || '(none)'}`);
  L.push(`messages            sent ${s.messages.sent}, received ${s.messages.received}, lost ${s.messages.lost}, corrupted ${s.messages.corrupted}`);
  for (const line of formatDeviceReports(s.devices)) L.push(line);
  L.push(s.measured.throughput ? `throughput          ${s.throughputMBps} MB/s (payload both ways)` : 'throughput          n/a (the non-secure guest did not measure it)');
  L.push(s.measured.rtt ? `round trip          p50 ${s.rttUs.p50} µs, p99 ${s.rttUs.p99} µs, max ${s.rttUs.max} µs` : 'round trip          n/a (the non-secure guest did not measure it)');
  L.push(
    s.cores === 1
      ? `world switches      ${s.worldSwitches}   (secure ${s.timePerWorldMs.secure} ms, non-secure ${s.timePerWorldMs.nonsecure} ms of core time)`
      : `world switches      ${s.worldSwitches}   (none needed: one core per world)`,
  );
  const smcLine = (w: Record<string, number> | undefined) => (w ? Object.entries(w).map(([k, v]) => `${k} ${v}`).join(', ') || '-' : '-');
  const smc = s.smc as MonitorSnapshot['smc'];
  L.push(`smc calls           secure: ${smcLine(smc.secure)}; non-secure: ${smcLine(smc.nonsecure)}`);
  if (s.cores === 2) {
    L.push(`notifications (SGI) non-secure → secure ${s.sgi.toSecure}, secure → non-secure ${s.sgi.toNonSecure} (received ${s.sgi.receivedByNonSecure}); acknowledged: core 0 ${s.sgi.acknowledgedSecure}, core 1 ${s.sgi.acknowledgedNonSecure} interrupts`);
    L.push(`time per core       ${s.perCoreMs.map((c) => `core ${c.core} (${c.world}): busy ${c.busy} ms, idle ${c.idle} ms`).join('; ')}`);
  }
  L.push(
    s.cores === 1
      ? `preemption latency  p50 ${s.preemptionLatencyUs.p50} µs, p99 ${s.preemptionLatencyUs.p99} µs, max ${s.preemptionLatencyUs.max} µs over ${s.preemptionLatencyUs.count} preemptions (${s.preemptionLatencyUs.timeouts} timeouts)`
      : 'preemption latency  n/a (each world has its own core)',
  );
  for (const t of s.rtTasks) {
    L.push(`rt task ${t.name.padEnd(11)} period ${t.periodUs} µs, ${t.jobs} jobs, ${t.deadlineMisses} deadline misses, jitter p50 ${round(t.jitterUs.p50)} µs, max ${round(t.jitterUs.max)} µs`);
    const causes = Object.entries(t.missesByCause ?? {}).sort((a, b) => b[1] - a[1]);
    if (causes.length > 0) L.push(`                    misses by cause: ${causes.map(([c, n]) => `${c} ${n}`).join(', ')} (docs/tracing.md)`);
  }
  if (!s.rtDeadlinesMet) L.push(...rtMissLines(s));
  const x = s.rtExecutive;
  const leadText = x.wakeLead.adaptive
    ? `wake lead ${x.wakeLeadUs} µs at the end (adaptive ${x.wakeLead.baseUs}–${x.wakeLead.maxUs} µs: mean ${x.wakeLead.meanUs}, peak ${x.wakeLead.peakUs}${x.wakeLead.capped > 0 ? `, ${x.wakeLead.capped}× the p99 lateness did not fit` : ''})`
    : `wake lead ${x.wakeLeadUs} µs`;
  L.push(`rt executive        idle ${x.idle}; ${leadText}`);
  L.push(`                    OS wake-up late p50 ${x.wakeLateUs.p50} µs, p99 ${x.wakeLateUs.p99} µs (${x.lateWaits} past the release); spun ${x.spinMs} ms; service steps ${x.serviceSteps}, ${x.serviceDeferred} held back for a release, ${x.serviceOverruns} over their estimate`);
  const g = s.gc;
  const sv = g.secureServing;
  L.push(`gc pauses           secure ${g.secure.count} (${g.secure.major} full; ${g.secure.totalMs} ms, max ${g.secure.maxMs} ms; serving: ${sv.count}, ${sv.major} full, max ${sv.maxMs} ms${s.messages.received > 0 ? `, ${g.securePerKMessages} per 1000 messages` : ''}), non-secure ${g.nonsecure.count} (${g.nonsecure.major} full; ${g.nonsecure.totalMs} ms, max ${g.nonsecure.maxMs} ms)`);
  L.push(`security faults     attempted ${s.securityFaults.attempted}, blocked ${s.securityFaults.blocked}${s.keyLeaked ? '  KEY LEAKED' : ''}`);
  for (const f of s.securityFaults.records) L.push(`  ${f.world} ${f.access} of ${f.len} bytes at ${f.addr}: blocked (SecurityFault)`);
  if (s.attacks.length > 0) {
    L.push(`attacks             ${s.attacks.filter((a) => a.stopped).length} of ${s.attacks.length} stopped`);
    for (const a of s.attacks) L.push(`  ${a.stopped ? 'stopped    ' : 'NOT STOPPED'} ${a.name}: ${a.outcome}`);
    const b = s.blocked;
    const refused = Object.entries(b.smcRefused).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    L.push('blocked by the platform (hypervisor and secure-core records unless noted)');
    L.push(`  secure memory     ${b.securityFaults.read} reads, ${b.securityFaults.write} writes refused (SecurityFault); ${b.busErrors} bus errors`);
    L.push(`  smc               refused at the monitor entry: ${refused} (counted by the monitor model in the non-secure worker); ${b.invalidRequests} malformed mailbox requests dropped by the secure core`);
    L.push(`  notifications     ${b.notifications.issued} issued, ${b.notifications.seen} seen by the secure core (${b.notifications.coalesced} coalesced), ${b.notifications.rateLimited} over the rate limit, ${b.notifications.maskedWaits} waits with the line masked`);
    L.push(`  rings             ${b.ringViolations} rule violations refused (DEVICE_NEEDS_RESET), ${b.malformedDropped} malformed buffers dropped, ${b.linkResets} link resets`);
  }
  if (s.reboots.length > 0) {
    L.push(`reboots             ${s.reboots.length} of the non-secure partition (the secure partition kept running)`);
    for (const b of s.reboots) L.push(`  boot ${b.boot} died at ${b.atMs} ms: ${b.reason}; device reset, secure side ${b.secureAcked ? 'reset its link' : 'did not confirm'}, boot ${b.boot + 1} started`);
  }
  for (const [w, e] of [['secure', s.runtimeErrors.secure], ['non-secure', s.runtimeErrors.nonsecure]] as const) {
    if (e.count === 0) continue;
    L.push(`runtime errors      ${w}: ${e.count} caught${w === 'secure' ? ' (each fails the run)' : ''}`);
    for (const l of e.first.slice(0, 5)) L.push(`  ${l}`);
  }
  L.push(`partitions          secure: ${s.partitions.secure.status}${s.partitions.secure.error ? ` (${s.partitions.secure.error})` : ''}; non-secure: ${s.partitions.nonsecure.status}${s.partitions.nonsecure.error ? ` (${s.partitions.nonsecure.error})` : ''}`);
  const pids = (w: string) => {
    const l = s.isolation.processes.filter((p) => p.world === w).map((p) => p.pid);
    return `pid${l.length > 1 ? 's' : ''} ${l.join(', ')}`;
  };
  L.push(`isolation           ${s.isolation.mode === 'process' ? `one OS process per partition (secure ${pids('secure')}; non-secure ${pids('nonsecure')})` : 'worker threads of one process'}`);
  L.push(`duration            ${s.durationMs} ms`);
  L.push('');
  L.push('terms');
  for (const t of TERMS) L.push(`  ${t}`);
  L.push('');
  const caveat = s.warnings.length > 0 ? `${s.ok ? ', but ' : '; also: '}${s.warnings.join('; ')}` : '';
  L.push(s.ok ? `result              OK${caveat}` : `result              FAILED: ${s.problems.join('; ')}${caveat}`);
  return L.join('\n');
}

/** The --json object: the contract fields first, then the rest of the summary. */
export function toJson(s: RunSummary): Record<string, unknown> {
  return {
    cores: s.cores,
    messages: s.messages,
    devices: s.devices,
    worldSwitches: s.worldSwitches,
    securityFaults: { attempted: s.securityFaults.attempted, blocked: s.securityFaults.blocked, records: s.securityFaults.records },
    rtTask: { periodUs: s.rtTask.periodUs, deadlineMisses: s.rtTask.deadlineMisses, maxJitterUs: s.rtTask.maxJitterUs, name: s.rtTask.name, jobs: s.rtTask.jobs, p99JitterUs: s.rtTask.p99JitterUs, skippedReleases: s.rtTasks[0]?.skippedReleases ?? 0, missesByCause: s.rtTasks[0]?.missesByCause ?? {} },
    throughputMBps: s.throughputMBps,
    rttUs: s.rttUs,
    measured: s.measured,
    ok: s.ok,
    problems: s.problems,
    warnings: s.warnings,
    rtDeadlinesMet: s.rtDeadlinesMet,
    story: s.story,
    hostLoad: s.hostLoad,
    features: s.features,
    preemptionLatencyUs: s.preemptionLatencyUs,
    rtExecutive: s.rtExecutive,
    gc: s.gc,
    timePerWorldMs: s.timePerWorldMs,
    sgi: s.sgi,
    perCoreMs: s.perCoreMs,
    smc: s.smc,
    keyAddress: s.keyAddress,
    keyLeaked: s.keyLeaked,
    memoryMap: s.memoryMap,
    partitions: s.partitions,
    runtimeErrors: s.runtimeErrors,
    reboots: s.reboots,
    isolation: s.isolation,
    ...(s.scenario !== undefined ? { scenario: s.scenario } : {}),
    ...(s.attacks.length > 0 ? { attacks: s.attacks } : {}),
    blocked: s.blocked,
    durationMs: s.durationMs,
  };
}
