/**
 * The hypervisor's handle on a partition running in its own OS process: the same surface as ../partition.ts
 * (mainDone, finished, outcome, report, crash, logs, faults) so that the machine logic is the same, with a forked
 * process (./child.ts) in place of a worker. It validates the relayed worker messages exactly as the in-process
 * handle does (a non-secure process is hostile: malformed messages are counted and dropped, faults capped).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { World } from '../../guest/memory-map.js';
import type { FaultRecord } from '../../guest/memory-port.js';
import type { MainOutcome } from '../../guest/runtime.js';
import type { PartitionMessage } from '../partition-worker.js';
import type { PartitionEnd } from '../partition.js';
import type { ChildToParent, PartitionProcessSpec } from './protocol.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const MAX_FAULTS_KEPT = 1000;
const MAX_LOGS_KEPT = 200;

export class ProcessPartition {
  readonly world: World;
  readonly child: ChildProcess;
  readonly logs: string[] = [];
  readonly faults: FaultRecord[] = [];
  faultCount = 0;
  malformedMessages = 0;
  outcome: MainOutcome | undefined;
  report: Record<string, unknown> | undefined;
  crash: string | undefined;
  /** The process id and the files it mapped, once it has mapped them. */
  readonly mapped: Promise<{ pid: number; files: readonly string[] } | undefined>;
  readonly mainDone: Promise<MainOutcome | undefined>;
  readonly finished: Promise<PartitionEnd>;
  private exited = false;

  constructor(spec: PartitionProcessSpec, private readonly onLog?: (world: World, text: string) => void, onFault?: (f: FaultRecord) => void) {
    this.world = spec.world;
    // guest console output goes to stderr (as in-process), so that --json on stdout stays clean
    this.child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child.stdout!.pipe(process.stderr, { end: false });
    this.child.stderr!.pipe(process.stderr, { end: false });
    let resolveMapped!: (v: { pid: number; files: readonly string[] } | undefined) => void;
    let resolveMain!: (o: MainOutcome | undefined) => void;
    let resolveEnd!: (e: PartitionEnd) => void;
    this.mapped = new Promise((r) => (resolveMapped = r));
    this.mainDone = new Promise((r) => (resolveMain = r));
    this.finished = new Promise((r) => (resolveEnd = r));
    const end = (): void => {
      resolveMapped(undefined);
      resolveMain(this.outcome);
      resolveEnd({ outcome: this.outcome, report: this.report, crash: this.crash });
    };
    this.child.on('message', (m: ChildToParent) => {
      if (typeof m !== 'object' || m === null) {
        this.malformedMessages++;
        return;
      }
      switch (m.type) {
        case 'mapped':
          resolveMapped({ pid: Number(m.pid), files: Array.isArray(m.files) ? m.files.map(String) : [] });
          return;
        case 'partition':
          this.onPartitionMessage(m.msg, resolveMain, end, onFault);
          return;
        case 'error':
          this.crash ??= `partition process: ${String(m.error)}`;
          return;
        case 'exit':
          if (this.report === undefined) this.crash ??= `worker exited with code ${Number(m.code)} before its report`;
          return;
        default:
          this.malformedMessages++;
      }
    });
    this.child.on('error', (e) => {
      this.crash ??= `partition process: ${e.message}`;
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      if (this.report === undefined) this.crash ??= `partition process exited (${signal ?? `code ${code}`}) before its report`;
      end();
    });
    this.child.send({ type: 'boot', spec });
  }

  private onPartitionMessage(m: unknown, resolveMain: (o: MainOutcome | undefined) => void, end: () => void, onFault?: (f: FaultRecord) => void): void {
    const msg = m as PartitionMessage;
    if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') {
      this.malformedMessages++;
      return;
    }
    switch (msg.type) {
      case 'log':
        if (typeof msg.text !== 'string') break;
        if (this.logs.length < MAX_LOGS_KEPT) this.logs.push(msg.text.slice(0, 500));
        this.onLog?.(this.world, msg.text.slice(0, 500));
        return;
      case 'fault': {
        const f = msg.fault;
        if (!f || typeof f.addr !== 'number' || typeof f.len !== 'number' || (f.access !== 'read' && f.access !== 'write') || (f.kind !== 'security' && f.kind !== 'bus')) break;
        this.faultCount++;
        // the world is the process's, whatever the message says
        const rec: FaultRecord = { addr: f.addr, len: f.len, access: f.access, kind: f.kind, world: this.world, timeUs: Number(f.timeUs) || 0 };
        if (this.faults.length < MAX_FAULTS_KEPT) this.faults.push(rec);
        onFault?.(rec);
        return;
      }
      case 'main-done':
        this.outcome = msg.outcome;
        resolveMain(msg.outcome);
        return;
      case 'report':
        this.report = msg.report;
        end();
        return;
      case 'boot-error':
        this.crash = `boot failed: ${String(msg.error)}`;
        end();
        return;
    }
    this.malformedMessages++;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Ends the process: SIGTERM, then SIGKILL after `graceMs`. */
  async terminate(graceMs = 1000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([gone, new Promise<void>((r) => (t = setTimeout(r, graceMs)))]);
    clearTimeout(t);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await gone;
    }
  }
}
