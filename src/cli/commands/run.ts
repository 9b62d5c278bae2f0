/**
 * `tz-virtio run` (= `npm start`): boots the LTZVisor-style model with two partitions and prints a report.
 *
 *   tz-virtio run [--cores 1|2] [--messages N] [--window N] [--json] [--dump-shm FILE] [--verbose]
 *   tz-virtio run --secure FILE --nonsecure FILE [--config FILE]
 *   tz-virtio run --crash-at K [--crash-mode terminate|exit|throw] [--max-reboots N]
 *   tz-virtio run --scenario default|hostile|echo
 *   tz-virtio run --isolation worker|process
 *   tz-virtio run --transport rsc-table|mmio     (how the channel's devices other than RPMsg are carried)
 *
 * Without --secure/--nonsecure it runs a scenario of the registry (examples/scenarios.ts), by default
 * "default" (examples/secure-signer + examples/nonsecure-client).
 * --config takes a JSON file: { cores, isolation, platform, rpmsg, devices, transport, preemptTimeoutUs, afterNsExitMs, timeoutMs,
 * secure: { module, args }, nonsecure: { module, args } } (module paths relative to the file); command-line flags win.
 * Exit code 0 when the run is clean (every request answered and checked, nothing lost, faults blocked), 1 otherwise.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, parseNumberArg } from '../errors.js';
import { DEFAULT_TRACE_LIMIT, runMachine, type MachineConfig, type PartitionConfig } from '../../hypervisor/machine.js';
import { MAX_TRACE_CAPACITY } from '../../trace/buffer.js';
import { parseTraceWindow, writeTrace } from '../trace-output.js';
import { formatSummary, summarize, toJson } from '../../hypervisor/report.js';
import { SCENARIO_NAMES, isScenarioName, scenario as lookupScenario, type Scenario } from '../../../examples/scenarios.js';
import { isHypervisorError } from '../../hypervisor/errors.js';
import { PhysicalMemory, hex } from '../../virtio/memory.js';
import { dumpRegion } from '../../rpmsg/index.js';

interface RunOptions {
  cores?: string;
  isolation?: string;
  messages?: string;
  window?: string;
  json?: boolean;
  dumpShm?: string;
  secure?: string;
  nonsecure?: string;
  config?: string;
  verbose?: boolean;
  timeout?: string;
  crashAt?: string;
  crashMode?: string;
  maxReboots?: string;
  scenario?: string;
  rtIdle?: string;
  wakeLead?: string;
  maxWakeLead?: string;
  transport?: string;
  trace?: string;
  traceLimit?: string;
  traceWindow?: string;
}

/** Refuses an output path that cannot be written before the run starts (its directory must exist; it is not a directory). */
function checkWritable(flag: string, file: string): void {
  const dir = dirname(resolve(file));
  if (!existsSync(dir)) throw new CliError(`run: ${flag} ${file}: directory ${dir} does not exist`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new CliError(`run: ${flag} ${file}: is a directory`);
}

/** RT task names of the secure partition's report, in task order (trace track names). */
function rtTaskNames(report: Record<string, unknown> | undefined): string[] {
  const rt = report?.['rt'];
  return Array.isArray(rt) ? rt.map((t: unknown) => String((t as { name?: unknown }).name ?? '?')) : [];
}

function moduleArg(flag: string, path: string, base: string): string {
  const p = resolve(base, path);
  if (!existsSync(p)) throw new CliError(`run: ${flag} ${path}: no such file`);
  if (/\.(c|m)?ts$/.test(p)) throw new CliError(`run: ${flag} ${path}: compile TypeScript partitions first (workers load .js/.mjs)`);
  return p;
}

type ConfigFile = Partial<Omit<MachineConfig, 'secure' | 'nonsecure' | 'onLog'>> & {
  secure?: Partial<PartitionConfig>;
  nonsecure?: Partial<PartitionConfig>;
};

function readConfig(path: string): { cfg: ConfigFile; dir: string } {
  const p = resolve(path);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch {
    throw new CliError(`run: --config ${path}: cannot read it`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new CliError(`run: --config ${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new CliError(`run: --config ${path}: must be a JSON object`);
  return { cfg: cfg as ConfigFile, dir: dirname(p) };
}

/** The RT executive settings: the config file's `rt`, with --rt-idle / --wake-lead / --max-wake-lead over it. */
function rtConfig(o: RunOptions, fromCfg: MachineConfig['rt']): MachineConfig['rt'] {
  if (fromCfg !== undefined && (typeof fromCfg !== 'object' || fromCfg === null || Array.isArray(fromCfg))) throw new CliError('run: config rt must be an object');
  const idle = o.rtIdle ?? fromCfg?.idle;
  if (idle !== undefined && idle !== 'sleep' && idle !== 'spin') throw new CliError(`run: rt idle must be sleep or spin, not ${String(idle)}`);
  const us = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = parseNumberArg(flag, v);
    if (n < 0 || n > 1_000_000) throw new CliError(`run: ${flag} must be between 0 and 1000000 µs`);
    return n;
  };
  const wakeLeadUs = us('--wake-lead', o.wakeLead);
  const maxWakeLeadUs = us('--max-wake-lead', o.maxWakeLead);
  if (fromCfg === undefined && idle === undefined && wakeLeadUs === undefined && maxWakeLeadUs === undefined) return undefined;
  return {
    ...(fromCfg ?? {}),
    ...(idle !== undefined ? { idle } : {}),
    ...(wakeLeadUs !== undefined ? { wakeLeadUs } : {}),
    ...(maxWakeLeadUs !== undefined ? { maxWakeLeadUs } : {}),
  };
}

export async function runCommand(o: RunOptions): Promise<number> {
  const { cfg, dir } = o.config ? readConfig(o.config) : { cfg: {} as ConfigFile, dir: process.cwd() };
  const cores = o.cores !== undefined ? parseNumberArg('--cores', o.cores) : (cfg.cores ?? 1);
  if (cores !== 1 && cores !== 2) throw new CliError(`run: --cores must be 1 or 2, not ${cores}`);
  const custom = o.secure !== undefined || o.nonsecure !== undefined || cfg.secure?.module !== undefined || cfg.nonsecure?.module !== undefined;
  if (custom && o.scenario !== undefined) throw new CliError('run: --scenario and --secure/--nonsecure (or modules in --config) exclude each other');
  let sc: Scenario | undefined;
  if (!custom) {
    const name = o.scenario ?? 'default';
    if (!isScenarioName(name)) throw new CliError(`run: --scenario must be one of ${SCENARIO_NAMES.join(', ')}, not ${name}`);
    try {
      sc = lookupScenario(name);
    } catch (e) {
      if (isHypervisorError(e)) throw new CliError(`run: ${e.message}`);
      throw e;
    }
  }
  const pick = (flag: string, cli: string | undefined, fromCfg: string | undefined, def: string | undefined): string => {
    if (cli !== undefined) return moduleArg(flag, cli, process.cwd());
    if (fromCfg !== undefined) return moduleArg(flag, fromCfg, dir);
    if (custom || def === undefined) throw new CliError(`run: give both --secure and --nonsecure (or both modules in --config)`);
    return def;
  };
  const secureModule = pick('--secure', o.secure, cfg.secure?.module, sc?.secure.module);
  const nonsecureModule = pick('--nonsecure', o.nonsecure, cfg.nonsecure?.module, sc?.nonsecure.module);
  const nsArgs: Record<string, unknown> = { ...(cfg.nonsecure?.args ?? {}) };
  if (o.messages !== undefined) {
    const n = parseNumberArg('--messages', o.messages);
    if (n < 1) throw new CliError('run: --messages must be at least 1');
    if (sc !== undefined && sc.messagesArg === undefined) throw new CliError(`run: --messages does not apply to the ${sc.name} scenario`);
    nsArgs[sc?.messagesArg ?? 'messages'] = n;
  }
  if (o.window !== undefined) nsArgs['window'] = parseNumberArg('--window', o.window);
  const timeoutMs = o.timeout !== undefined ? parseNumberArg('--timeout', o.timeout) : (cfg.timeoutMs ?? 120_000);

  let crash: MachineConfig['crash'] = cfg.crash;
  if (o.crashAt !== undefined) {
    const k = parseNumberArg('--crash-at', o.crashAt);
    if (k < 1) throw new CliError('run: --crash-at must be at least 1');
    const mode = o.crashMode ?? 'terminate';
    if (mode !== 'terminate' && mode !== 'exit' && mode !== 'throw') throw new CliError(`run: --crash-mode must be terminate, exit or throw, not ${mode}`);
    crash = { atMessage: k, mode };
  } else if (o.crashMode !== undefined) throw new CliError('run: --crash-mode needs --crash-at');
  const maxReboots = o.maxReboots !== undefined ? parseNumberArg('--max-reboots', o.maxReboots) : (cfg.maxReboots ?? 3);

  const rt = rtConfig(o, cfg.rt);
  const machine: MachineConfig = {
    ...cfg,
    ...(rt !== undefined ? { rt } : {}),
    maxReboots,
    ...(crash !== undefined ? { crash } : {}),
    cores,
    timeoutMs,
    secure: { module: secureModule, args: { ...(cfg.secure?.args ?? {}) } },
    nonsecure: { module: nonsecureModule, args: nsArgs },
    ...(o.verbose ? { onLog: (world, text) => process.stderr.write(`[${world}] ${text}\n`) } : {}),
  };
  const transport = o.transport ?? cfg.transport;
  if (transport !== undefined && transport !== 'rsc-table' && transport !== 'mmio') throw new CliError(`run: --transport must be rsc-table or mmio, not ${String(transport)}`);
  const devices = cfg.devices ?? sc?.devices;
  const isolation = o.isolation ?? cfg.isolation ?? 'worker';
  if (isolation !== 'worker' && isolation !== 'process') throw new CliError(`run: --isolation must be worker or process, not ${isolation}`);
  const traceLimit = o.traceLimit !== undefined ? parseNumberArg('--trace-limit', o.traceLimit) : undefined;
  if (traceLimit !== undefined && (!Number.isInteger(traceLimit) || traceLimit < 2 || traceLimit > 2 * MAX_TRACE_CAPACITY)) {
    throw new CliError(`run: --trace-limit must be an integer from 2 to ${2 * MAX_TRACE_CAPACITY}`);
  }
  const traceWindow = o.traceWindow !== undefined ? parseTraceWindow(o.traceWindow) : undefined;
  if ((traceLimit !== undefined || traceWindow !== undefined) && o.trace === undefined) throw new CliError('run: --trace-limit and --trace-window need --trace FILE');
  if (o.trace !== undefined) checkWritable('--trace', o.trace);
  let result;
  try {
    result = await runMachine({
      ...machine,
      isolation,
      ...(transport !== undefined ? { transport } : {}),
      ...(devices !== undefined ? { devices } : {}),
      ...(o.trace !== undefined ? { trace: traceLimit !== undefined ? { limit: traceLimit } : {} } : {}),
    });
  } catch (e) {
    if (isHypervisorError(e)) throw new CliError(`run: ${e.message}`);
    throw e;
  }
  const traced =
    o.trace !== undefined && result.trace !== undefined
      ? writeTrace(o.trace, result.trace, {
          taskNames: rtTaskNames(result.secure.report),
          ...(traceWindow ? { window: traceWindow } : {}),
          metadata: { cores, isolation, scenario: sc?.name ?? 'custom' },
          title: `tz-virtio run, ${cores} core${cores === 1 ? '' : 's'}${sc ? `, scenario ${sc.name}` : ''}`,
        })
      : undefined;
  const summary = summarize(result, { ...(sc ? { scenario: sc.name, adversarial: sc.adversarial } : {}) });
  let dumpNote: string | undefined;
  if (o.dumpShm !== undefined) {
    if (result.rpmsg === undefined) throw new CliError('run: --dump-shm: this machine has no RPMsg region');
    const { host: _host, ...layout } = result.rpmsg;
    void _host;
    dumpRegion(new PhysicalMemory([result.backing.ipc]), layout, o.dumpShm);
    dumpNote = `shared region dumped to ${o.dumpShm} (+ ${o.dumpShm}.json); read it with: tz-virtio inspect ${o.dumpShm} --rpmsg --rsc-table ${hex(layout.rscTable)} --base ${hex(layout.base)}`;
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...toJson(summary), ...(o.dumpShm ? { dumpShm: o.dumpShm } : {}), ...(traced ? { trace: traced } : {}) }) + '\n');
  } else {
    process.stdout.write(formatSummary(summary) + '\n');
    if (dumpNote) process.stdout.write(dumpNote + '\n');
    if (traced) {
      const pic = traced.png ?? traced.svg;
      process.stdout.write(`trace               ${traced.file} (${traced.events} events${traced.droppedEvents > 0 ? `, ${traced.droppedEvents} dropped at --trace-limit` : ''}); open it in ui.perfetto.dev; timeline picture ${pic}\n`);
    }
  }
  return summary.ok ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run the two-partition TrustZone model (default: the secure signing service and its non-secure client)')
    .option('--cores <n>', '1: one core shared by both worlds (LTZVisor single-core); 2: one core per world', undefined)
    .option('--isolation <mode>', 'worker: partitions are worker threads (default); process: each partition its own OS process over mapped shared files')
    .option('--messages <n>', 'requests the default client sends (default 2000)')
    .option('--window <n>', 'requests the default client keeps outstanding (default 16)')
    .option('--json', 'print one JSON object instead of the text report')
    .option('--dump-shm <file>', 'write the shared RPMsg region and its layout (FILE.json) after the run')
    .option('--secure <file>', 'secure partition module (.js/.mjs)')
    .option('--nonsecure <file>', 'non-secure partition module (.js/.mjs)')
    .option('--config <file>', 'machine configuration (JSON)')
    .option('--timeout <ms>', 'whole-run limit in ms (default 120000)')
    .option('--verbose', 'print the partitions\' log lines on stderr')
    .option('--scenario <name>', `what to run: ${SCENARIO_NAMES.join(' | ')} (default: default)`)
    .option('--crash-at <k>', 'kill the non-secure partition after it sent k messages; it is rebooted and the stream resumes')
    .option('--crash-mode <mode>', 'how it dies: terminate (the hypervisor kills its worker, default), exit, throw')
    .option('--rt-idle <mode>', 'two cores: sleep (the secure core sleeps until shortly before each release, default) or spin (it polls between releases)')
    .option('--wake-lead <us>', 'the secure executive wakes this long before a release and spins to it (default 250; the minimum of the adaptive lead)')
    .option('--max-wake-lead <us>', 'upper bound of the adaptive wake lead (default 500 with two cores, 350 with one)')
    .option('--transport <name>', 'how the devices other than RPMsg are carried: rsc-table (one resource table, default) or mmio (a virtio-mmio window each)')
    .option('--trace <file>', 'write a timeline trace (Chrome/Perfetto trace-event JSON) to FILE, and a picture of it to FILE.png/.svg')
    .option('--trace-limit <n>', `most events recorded (default ${DEFAULT_TRACE_LIMIT}; half for the secure partition, half per non-secure boot)`)
    .option('--trace-window <start:end>', 'the part of the trace the picture shows, in ms from its start (default: 10 ms from the first RT release or world switch)')
    .option('--max-reboots <n>', 'reboots of a crashed non-secure partition before the run ends (default 3)')
    .action(async (opts: RunOptions) => {
      process.exitCode = await runCommand(opts);
    });
}
