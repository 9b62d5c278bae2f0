/**
 * `tz-virtio run` (= `npm start`): boots the LTZVisor-style model with two partitions and prints a report.
 *
 *   tz-virtio run [--cores 1|2] [--messages N] [--window N] [--json] [--dump-shm FILE] [--verbose]
 *   tz-virtio run --secure FILE --nonsecure FILE [--config FILE]
 *   tz-virtio run --crash-at K [--crash-mode terminate|exit|throw] [--max-reboots N]
 *   tz-virtio run --scenario default|hostile|echo
 *   tz-virtio run --isolation worker|process
 *   tz-virtio run --nonsecure-linux [--frontend uml|qemu] [--cores 1|2] [--ring split|packed] [--channel vsock|console]
 *                 [--vsock-port N] [--inband] [--kernel PATH] [--init SCRIPT]   (src/hypervisor/linux, docs/linux.md)
 *   tz-virtio run --transport rsc-table|mmio     (how the channel's devices other than RPMsg are carried)
 *
 * Without --secure/--nonsecure it runs a scenario of the registry (examples/scenarios.ts), by default
 * "default" (examples/secure-signer + examples/nonsecure-client).
 * --config takes a JSON file: { cores, isolation, platform, rpmsg, devices, transport, preemptTimeoutUs, afterNsExitMs, timeoutMs,
 * secure: { module, args }, nonsecure: { module, args } } (module paths relative to the file); command-line flags win.
 * Exit code 0 when the run is clean (every request answered and checked, nothing lost, faults blocked), 1 otherwise.
 */
import { accessSync, constants as fsConstants, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CliError, CliErrorCode } from '../errors.js';
import { choiceOption, intOption, type IntRule } from '../options.js';
import { checkRunConfig } from '../run-config.js';
import { setActivity } from '../signals.js';
import { DEFAULT_TRACE_LIMIT, runMachine, type MachineConfig, type PartitionConfig } from '../../hypervisor/machine.js';
import { MAX_TRACE_CAPACITY } from '../../trace/buffer.js';
import { parseTraceWindow, writeTrace } from '../trace-output.js';
import { RPMSG_TRACE_QUEUE_NAMES } from '../../rpmsg/constants.js';
import { formatSummary, summarize, toJson } from '../../hypervisor/report.js';
import { SCENARIO_NAMES, isScenarioName, scenario as lookupScenario, type Scenario } from '../../../examples/scenarios.js';
import { isHypervisorError } from '../../hypervisor/errors.js';
import { PhysicalMemory, hex } from '../../virtio/memory.js';
import { dumpRegion } from '../../rpmsg/index.js';
import { runLinuxMachine } from '../../hypervisor/linux/run-linux.js';
import { formatLinuxReport, linuxReportJson } from '../../hypervisor/linux/report.js';
import { isLinuxError } from '../../hypervisor/linux/errors.js';

/** `run --nonsecure-linux`: the machine with user-mode Linux as the non-secure world (src/hypervisor/linux/). */
async function runLinuxCommand(o: RunOptions): Promise<number> {
  const other = (['secure', 'nonsecure', 'config', 'scenario', 'isolation', 'window', 'dumpShm', 'trace', 'crashAt'] as const).filter((k) => o[k] !== undefined);
  if (other.length > 0) throw new CliError(`run: --nonsecure-linux does not take --${other.map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')}`);
  const cores = (o.cores ?? 1) as 1 | 2;
  setActivity(`running Linux${o.frontend === 'qemu' ? ' under QEMU' : ''} as the non-secure world (${cores} core${cores === 1 ? '' : 's'})`);
  try {
    const r = await runLinuxMachine({
      cores,
      ...(o.kernel !== undefined ? { kernel: resolve(o.kernel) } : {}),
      ...(o.init !== undefined ? { init: resolve(o.init) } : {}),
      ...(o.messages !== undefined ? { messages: o.messages } : {}),
      ...(o.channel !== undefined ? { channel: o.channel } : {}),
      ...(o.frontend !== undefined ? { frontend: o.frontend } : {}),
      ...(o.inband === true ? { inband: true } : {}),
      ...(o.ring !== undefined ? { ring: o.ring } : {}),
      ...(o.vsockPort !== undefined ? { vsockPort: o.vsockPort } : {}),
      timeoutMs: o.timeout ?? o.timeoutMs ?? 120_000,
      ...(o.verbose ? { onConsole: (l: string) => process.stderr.write(`[linux] ${l}\n`) } : {}),
    });
    process.stdout.write((o.json ? JSON.stringify(linuxReportJson(r)) : formatLinuxReport(r)) + '\n');
    return r.ok ? 0 : 1;
  } catch (e) {
    if (isLinuxError(e)) throw new CliError(`run: ${e.message}`);
    throw e;
  }
}

interface RunOptions {
  cores?: number;
  isolation?: 'worker' | 'process';
  messages?: number;
  window?: number;
  json?: boolean;
  dumpShm?: string;
  secure?: string;
  nonsecure?: string;
  config?: string;
  verbose?: boolean;
  timeoutMs?: number;
  crashAt?: number;
  crashMode?: 'terminate' | 'exit' | 'throw';
  maxReboots?: number;
  scenario?: string;
  rtIdle?: 'sleep' | 'spin';
  wakeLeadUs?: number;
  maxWakeLeadUs?: number;
  waitPolicy?: string;
  transport?: 'rsc-table' | 'mmio';
  trace?: string;
  traceLimit?: number;
  traceWindow?: string;
  nonsecureLinux?: boolean;
  kernel?: string;
  init?: string;
  channel?: 'vsock' | 'console';
  frontend?: 'uml' | 'qemu';
  inband?: boolean;
  ring?: 'split' | 'packed';
  vsockPort?: number;
  // old spellings, kept as hidden aliases
  timeout?: number;
  wakeLead?: number;
  maxWakeLead?: number;
}

/** The default client's request count when --messages is not given (examples/nonsecure-client.ts). */
const DEFAULT_MESSAGES = 2000;
const TIMEOUT_RULE: IntRule = { min: 100, max: 86_400_000 };
const LEAD_RULE: IntRule = { min: 0, max: 1_000_000 };

/** --wait-policy: one policy for both cores, or per core `secure=P,nonsecure=P` (the policies are checked by the machine). */
function waitPolicyArg(v: string): NonNullable<MachineConfig['waitPolicy']> {
  if (!v.includes('=')) return v as NonNullable<MachineConfig['waitPolicy']>;
  const out: Record<string, string> = {};
  for (const part of v.split(',')) {
    const [k, p, ...rest] = part.split('=');
    if (k === undefined || p === undefined || rest.length > 0 || (k !== 'secure' && k !== 'nonsecure')) {
      throw new CliError(`run: --wait-policy ${v}: expected a policy or secure=POLICY,nonsecure=POLICY`);
    }
    out[k] = p;
  }
  return out as NonNullable<MachineConfig['waitPolicy']>;
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
    if (!statSync(p).isFile()) throw new CliError(`run: --config ${path}: not a regular file`, 2, CliErrorCode.CONFIG);
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new CliError(`run: --config ${path}: cannot read it (${err.code ?? 'error'}: ${err.code === 'ENOENT' ? 'no such file' : err.message})`, 2, CliErrorCode.CONFIG);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new CliError(`run: --config ${path}: not JSON (${(e as Error).message})`, 2, CliErrorCode.CONFIG);
  }
  checkRunConfig(path, cfg);
  return { cfg: cfg as ConfigFile, dir: dirname(p) };
}

/** The RT executive settings: the config file's `rt` (checked by run-config.ts), with the flags over it. */
function rtConfig(o: RunOptions, fromCfg: MachineConfig['rt']): MachineConfig['rt'] {
  const idle = o.rtIdle;
  const wakeLeadUs = o.wakeLead ?? o.wakeLeadUs;
  const maxWakeLeadUs = o.maxWakeLead ?? o.maxWakeLeadUs;
  if (fromCfg === undefined && idle === undefined && wakeLeadUs === undefined && maxWakeLeadUs === undefined) return undefined;
  const rt = {
    ...(fromCfg ?? {}),
    ...(idle !== undefined ? { idle } : {}),
    ...(wakeLeadUs !== undefined ? { wakeLeadUs } : {}),
    ...(maxWakeLeadUs !== undefined ? { maxWakeLeadUs } : {}),
  };
  if (rt.wakeLeadUs !== undefined && rt.maxWakeLeadUs !== undefined && rt.wakeLeadUs > rt.maxWakeLeadUs) {
    throw new CliError(`run: the wake lead ${rt.wakeLeadUs} µs must not exceed the maximum wake lead ${rt.maxWakeLeadUs} µs`);
  }
  return rt;
}

/** Trace track names of every vring: a vring's track is its notify id (RPMsg's two vrings keep their usual names). */
function traceQueueNames(devices: readonly { readonly type: string; readonly notifyIds: readonly number[] }[] | undefined): Record<number, string> {
  const names: Record<number, string> = { ...RPMSG_TRACE_QUEUE_NAMES };
  for (const d of devices ?? []) if (d.type !== 'rpmsg') d.notifyIds.forEach((id, q) => (names[id] = `${d.type} vq${q}`));
  return names;
}

/** RT task names of the secure partition's report, in task order (trace track names). */
function rtTaskNames(report: Record<string, unknown> | undefined): string[] {
  const rt = report?.['rt'];
  return Array.isArray(rt) ? rt.map((t: unknown) => String((t as { name?: unknown }).name ?? '?')) : [];
}

/** Refuses an output path (--dump-shm, --trace) that cannot be written, before the run (a late failure would lose the report). */
function checkOutputPath(flag: string, file: string, suffixes: readonly string[]): void {
  const p = resolve(file);
  const dir = dirname(p);
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, fsConstants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`run: ${flag} ${file}: cannot write in ${dir} (${code ?? (e as Error).message})`, 2, CliErrorCode.FILE);
  }
  for (const f of [p, ...suffixes.map((x) => p + x)]) {
    if (existsSync(f) && !statSync(f).isFile()) throw new CliError(`run: ${flag} ${file}: ${f} exists and is not a regular file`, 2, CliErrorCode.FILE);
  }
}

export async function runCommand(o: RunOptions): Promise<number> {
  if (o.nonsecureLinux === true) return runLinuxCommand(o);
  const linuxOnly = (['kernel', 'init', 'frontend', 'channel', 'ring', 'vsockPort', 'inband'] as const).filter((k) => o[k] !== undefined);
  if (linuxOnly.length > 0) throw new CliError(`run: --${linuxOnly.map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} need${linuxOnly.length === 1 ? 's' : ''} --nonsecure-linux`);
  const { cfg, dir } = o.config ? readConfig(o.config) : { cfg: {} as ConfigFile, dir: process.cwd() };
  const cores = (o.cores ?? cfg.cores ?? 1) as 1 | 2;
  if (o.dumpShm !== undefined) checkOutputPath('--dump-shm', o.dumpShm, ['.json']);
  if (o.trace !== undefined) checkOutputPath('--trace', o.trace, ['.svg', '.png']);
  if ((o.traceLimit !== undefined || o.traceWindow !== undefined) && o.trace === undefined) throw new CliError('run: --trace-limit and --trace-window need --trace FILE');
  const traceWindow = o.traceWindow !== undefined ? parseTraceWindow(o.traceWindow) : undefined;
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
  // --messages / --window set the arguments of the default client; a custom partition reads its own args
  if (custom && (o.messages !== undefined || o.window !== undefined)) {
    throw new CliError(`run: ${o.messages !== undefined ? '--messages' : '--window'} applies to the built-in scenarios only; give your partition its arguments in --config (nonsecure.args)`);
  }
  if (o.messages !== undefined) {
    if (sc !== undefined && sc.messagesArg === undefined) throw new CliError(`run: --messages does not apply to the ${sc.name} scenario`);
    nsArgs[sc?.messagesArg ?? 'messages'] = o.messages;
  }
  if (o.window !== undefined) {
    if (sc !== undefined && sc.name !== 'default') throw new CliError(`run: --window applies to the default scenario only, not ${sc.name}`);
    nsArgs['window'] = o.window;
  }
  const timeoutMs = o.timeout ?? o.timeoutMs ?? cfg.timeoutMs ?? 120_000;

  let crash: MachineConfig['crash'] = cfg.crash;
  if (o.crashAt !== undefined) {
    const k = o.crashAt;
    const messages = o.messages ?? (sc?.name === 'default' ? DEFAULT_MESSAGES : undefined);
    if (messages !== undefined && k >= messages) throw new CliError(`run: --crash-at ${k} must be below the ${messages} messages sent (it would never crash)`);
    crash = { atMessage: k, mode: o.crashMode ?? 'terminate' };
  } else if (o.crashMode !== undefined) throw new CliError('run: --crash-mode needs --crash-at');
  const maxReboots = o.maxReboots ?? cfg.maxReboots ?? 3;

  const rt = rtConfig(o, cfg.rt);
  const machine: MachineConfig = {
    ...(o.waitPolicy !== undefined ? { waitPolicy: waitPolicyArg(o.waitPolicy) } : {}),
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
  const devices = cfg.devices ?? sc?.devices;
  const isolation = o.isolation ?? cfg.isolation ?? 'worker';
  setActivity(`running the machine (${cores} core${cores === 1 ? '' : 's'}, ${isolation} isolation${sc ? `, ${sc.name} scenario` : ''})`);
  let result;
  try {
    result = await runMachine({
      ...machine,
      isolation,
      ...(transport !== undefined ? { transport } : {}),
      ...(devices !== undefined ? { devices } : {}),
      ...(o.trace !== undefined ? { trace: o.traceLimit !== undefined ? { limit: o.traceLimit } : {} } : {}),
    });
  } catch (e) {
    if (isHypervisorError(e)) throw new CliError(`run: ${e.message}`);
    throw e;
  }
  const traced =
    o.trace !== undefined && result.trace !== undefined
      ? writeTrace(o.trace, result.trace, {
          taskNames: rtTaskNames(result.secure.report),
          queueNames: traceQueueNames(result.devices),
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
    .option('--cores <n>', '1: one core shared by both worlds (LTZVisor single-core); 2: one core per world (default 1)', intOption('--cores', { min: 1, max: 2 }))
    .option('--isolation <mode>', 'worker: partitions are worker threads (default); process: each partition its own OS process over mapped shared files', choiceOption('--isolation', ['worker', 'process'] as const))
    .option('--messages <n>', `requests the default client sends (default ${DEFAULT_MESSAGES})`, intOption('--messages', { min: 1, max: 1e9 }))
    .option('--window <n>', 'requests the default client keeps outstanding (default 16)', intOption('--window', { min: 1, max: 65_536 }))
    .option('--json', 'print one JSON object instead of the text report')
    .option('--dump-shm <file>', 'write the shared RPMsg region and its layout (FILE.json) after the run')
    .option('--secure <file>', 'secure partition module (.js/.mjs)')
    .option('--nonsecure <file>', 'non-secure partition module (.js/.mjs)')
    .option('--config <file>', 'machine configuration (JSON)')
    .option('--timeout-ms <ms>', 'whole-run limit (default 120000)', intOption('--timeout-ms', TIMEOUT_RULE))
    .addOption(new Option('--timeout <ms>').hideHelp().argParser(intOption('--timeout', TIMEOUT_RULE)))
    .option('--verbose', 'print the partitions\' log lines on stderr')
    .option('--scenario <name>', `what to run: ${SCENARIO_NAMES.join(' | ')} (default: default)`)
    .option('--crash-at <k>', 'kill the non-secure partition after it sent k messages; it is rebooted and the stream resumes', intOption('--crash-at', { min: 1, max: 1e9 }))
    .option('--crash-mode <mode>', 'how it dies: terminate (the hypervisor kills its worker, default), exit, throw', choiceOption('--crash-mode', ['terminate', 'exit', 'throw'] as const))
    .option('--rt-idle <mode>', 'two cores: sleep (the secure core sleeps until shortly before each release, default) or spin (it polls between releases)', choiceOption('--rt-idle', ['sleep', 'spin'] as const))
    .option('--wake-lead-us <us>', 'the secure executive wakes this long before a release and spins to it (default 250; the minimum of the adaptive lead)', intOption('--wake-lead-us', LEAD_RULE))
    .addOption(new Option('--wake-lead <us>').hideHelp().argParser(intOption('--wake-lead', LEAD_RULE)))
    .option('--max-wake-lead-us <us>', 'upper bound of the adaptive wake lead (default 500 with two cores, 350 with one)', intOption('--max-wake-lead-us', LEAD_RULE))
    .addOption(new Option('--max-wake-lead <us>').hideHelp().argParser(intOption('--max-wake-lead', LEAD_RULE)))
    .option('--wait-policy <p>', 'two cores: how the cores wait for events: block (default), spin-then-block, poll, peer-aware; or per core secure=P,nonsecure=P')
    .option('--transport <name>', 'how the devices other than RPMsg are carried: rsc-table (one resource table, default) or mmio (a virtio-mmio window each)', choiceOption('--transport', ['rsc-table', 'mmio'] as const))
    .option('--trace <file>', 'write a timeline trace (Chrome/Perfetto trace-event JSON) to FILE, and a picture of it to FILE.png/.svg')
    .option('--trace-limit <n>', `most events recorded (default ${DEFAULT_TRACE_LIMIT}; half for the secure partition, half per non-secure boot)`, intOption('--trace-limit', { min: 2, max: 2 * MAX_TRACE_CAPACITY }))
    .option('--trace-window <start:end>', 'the part of the trace the picture shows, in ms from its start (default: 10 ms from the first RT release or world switch)')
    .option('--nonsecure-linux', 'the non-secure world is a real Linux 6.1 (user-mode Linux, apt-get install user-mode-linux); its client asks the secure signer over AF_VSOCK and logs on /dev/hvc0')
    .option('--kernel <path>', 'with --nonsecure-linux: the linux.uml to boot (default /usr/bin/linux.uml)')
    .option('--init <script>', 'with --nonsecure-linux: the guest init script (default examples/linux/signer-client.sh)')
    .option('--frontend <vmm>', 'with --nonsecure-linux: who runs Linux: uml (user-mode Linux, default) or qemu (Debian\'s own kernel under qemu-system-x86_64, vhost-user-vsock-pci; vsock channel only)', choiceOption('--frontend', ['uml', 'qemu'] as const))
    .option('--channel <name>', 'with --nonsecure-linux: vsock (AF_VSOCK to CID 2, default) or console (lines on /dev/hvc0)', choiceOption('--channel', ['vsock', 'console'] as const))
    .option('--ring <layout>', 'with --nonsecure-linux: split or packed virtqueues (default packed: Linux picks it when offered)', choiceOption('--ring', ['split', 'packed'] as const))
    .option('--inband', 'with --nonsecure-linux: offer in-band notifications (kicks and calls as vhost-user messages instead of eventfds)')
    .option('--vsock-port <port>', 'with --nonsecure-linux: the signer\'s AF_VSOCK port on CID 2 (default 1234)', intOption('--vsock-port', { min: 1, max: 0xfffffffe }))
    .option('--max-reboots <n>', 'reboots of a crashed non-secure partition before the run ends (default 3)', intOption('--max-reboots', { min: 0, max: 1000 }))
    .addHelpText(
      'after',
      '\nExamples:\n  npx tz-virtio run --cores 2 --messages 500\n  npx tz-virtio run --secure examples/echo/secure.mjs --nonsecure examples/echo/nonsecure.mjs --isolation process\n  npx tz-virtio run --cores 1 --messages 300 --trace t.json   (open t.json in ui.perfetto.dev; t.json.png is a picture)\n  npx tz-virtio run --nonsecure-linux --cores 1 --messages 200',
    )
    .action(async (opts: RunOptions) => {
      process.exitCode = await runCommand(opts);
    });
}
