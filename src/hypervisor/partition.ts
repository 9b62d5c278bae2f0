/**
 * The hypervisor's handle on a partition (main thread), whatever runs it (a worker or an OS process: the channel of
 * ./launcher.ts). It validates what the partition posts (a non-secure partition is hostile: malformed messages are
 * counted and dropped, faults are capped) and turns the partition's life into promises: mainDone (the guest's main
 * ended), finished (final report, or the partition died).
 */
import type { World } from '../guest/memory-map.js';
import type { FaultRecord } from '../guest/memory-port.js';
import type { MainOutcome } from '../guest/runtime.js';
import type { PartitionMessage, PartitionWorkerData } from './partition-worker.js';
import type { PartitionChannel, PartitionLauncher } from './launcher.js';
const MAX_FAULTS_KEPT = 1000;
const MAX_LOGS_KEPT = 200;

export interface PartitionEnd {
  readonly outcome: MainOutcome | undefined;
  readonly report: Record<string, unknown> | undefined;
  /** Set when the worker died without a report (exit code, uncaught error, boot failure). */
  readonly crash: string | undefined;
}

export class Partition {
  readonly world: World;
  readonly channel: PartitionChannel;
  readonly logs: string[] = [];
  readonly faults: FaultRecord[] = [];
  faultCount = 0;
  malformedMessages = 0;
  outcome: MainOutcome | undefined;
  report: Record<string, unknown> | undefined;
  crash: string | undefined;
  readonly mainDone: Promise<MainOutcome | undefined>;
  readonly finished: Promise<PartitionEnd>;
  private exited = false;

  constructor(launcher: PartitionLauncher, data: PartitionWorkerData, private readonly onLog?: (world: World, text: string) => void, onFault?: (f: FaultRecord) => void) {
    this.world = data.world;
    let resolveMain!: (o: MainOutcome | undefined) => void;
    let resolveEnd!: (e: PartitionEnd) => void;
    this.mainDone = new Promise((r) => (resolveMain = r));
    this.finished = new Promise((r) => (resolveEnd = r));
    const end = () => resolveEnd({ outcome: this.outcome, report: this.report, crash: this.crash });
    const onMessage = (m: unknown): void => {
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
          // the world is the worker's, whatever the message says
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
          resolveMain(this.outcome);
          end();
          return;
        case 'crash-point':
          if (this.world !== 'nonsecure') break;
          // an injected crash: kill the partition wherever it is now (a power cut, not a clean exit)
          this.crash ??= `terminated by the hypervisor (crash injected at message ${Number(msg.atMessage)})`;
          void this.channel.terminate();
          return;
        case 'boot-error':
          this.crash = `boot failed: ${String(msg.error)}`;
          resolveMain(undefined);
          end();
          return;
      }
      this.malformedMessages++;
    };
    this.channel = launcher.start(data, {
      message: onMessage,
      error: (text) => {
        this.crash ??= `uncaught: ${text}`;
      },
      exit: (how) => {
        this.exited = true;
        if (this.report === undefined) this.crash ??= `${how} before its report`;
        resolveMain(this.outcome);
        end();
      },
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Ends the partition (a no-op once it is gone); resolves when it can touch no memory any more. */
  async terminate(): Promise<void> {
    if (!this.exited) await this.channel.terminate();
  }
}
