/**
 * The non-secure world as an OS process: Debian's user-mode Linux (linux.uml, Linux 6.1) started in a process group
 * of its own, its console lines collected, stopped and continued by the monitor, and never outliving us.
 *
 * UML's host processes: the kernel process (the one we spawn), a few helper threads of it (I/O, signals), and one
 * process per guest address space that the kernel runs under ptrace. A SIGSTOP to a traced process is a
 * signal-delivery stop its tracer (the UML kernel) does not expect ("wait_stub_done: failed to wait for SIGTRAP"),
 * so the monitor stops only the kernel process (the one we spawned, never traced). A guest program that is running on
 * the host at that moment goes on until its next trap into the kernel (a system call, a page fault, or the timer
 * tick: at most one tick, 10 ms at UML's HZ=100), then waits for the stopped kernel: Linux as a whole makes no
 * progress. The guest counter of run-linux.ts measures exactly that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LinuxError, LinuxErrorCode } from './errors.js';
import type { NonsecureOs } from './nonsecure-os.js';
import { superviseChild } from './child-output.js';

export interface UmlOptions {
  readonly kernel: string;
  /** Kernel command line (init=, mem=, virtio_uml.device=, environment for init as KEY=VALUE words). */
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** One call per console line (the kernel console: printk and init's stdout). */
  readonly onLine: (line: string) => void;
}

/** Every UML process group still alive, killed when this process exits by any path (signals included). */
const live = new Set<number>();
let hooked = false;
function killAll(): void {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  live.clear();
}
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // only when nobody else handles the signal do we also end the process; the CLI's own handler exits after us
    process.on(sig, () => {
      killAll();
      if (process.listenerCount(sig) === 1) process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

const FREEZER_ROOT = '/sys/fs/cgroup/freezer';

/** A fresh freezer cgroup (v1) for one UML, or undefined when this host has none we may write. */
function makeFreezer(): string | undefined {
  if (!existsSync(join(FREEZER_ROOT, 'cgroup.procs'))) return undefined;
  const dir = join(FREEZER_ROOT, `tz-virtio-uml-${process.pid}-${Math.floor(Math.random() * 1e9)}`);
  try {
    mkdirSync(dir);
    return dir;
  } catch {
    return undefined;
  }
}

export class UmlProcess implements NonsecureOs {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) once the kernel process is gone. */
  readonly exited: Promise<number | string>;
  /** The freezer cgroup (v1) holding every UML process, when this host offers one (see stop()). */
  readonly freezer: string | undefined;
  private stoppedPids: number[] = [];
  private frozen = false;
  private gone = false;

  constructor(o: UmlOptions) {
    hookExit();
    this.freezer = makeFreezer();
    // stdin is not the terminal: a stopped background group must never be asked to read it. With a freezer cgroup,
    // a shell enters it first and then becomes the kernel, so every process UML creates is born inside it.
    const [cmd, argv] =
      this.freezer !== undefined
        ? ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.freezer, o.kernel, ...o.args]]
        : [o.kernel, [...o.args]];
    this.child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: o.env });
    if (this.child.pid === undefined) throw new LinuxError(LinuxErrorCode.SPAWN_FAILED, `cannot start ${o.kernel}`, { kernel: o.kernel });
    this.pid = this.child.pid;
    live.add(this.pid);
    this.exited = superviseChild(this.child, o.onLine, {
      onGone: () => void (this.gone = true),
      onExit: () => {
        this.killGroup(); // helpers and traced children go with the kernel
        live.delete(this.pid);
        this.removeFreezer();
      },
    });
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** The untraced members of UML's process group: the kernel process and its helper threads (see the file comment). */
  kernelPids(): number[] {
    const out: number[] = [];
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return [this.pid];
    }
    for (const e of entries) {
      if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
        // fields after "(comm) ": state ppid pgrp ...
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(f[2]) !== this.pid) continue;
        const status = readFileSync(`/proc/${e}/status`, 'latin1');
        const m = /TracerPid:\s*(\d+)/.exec(status);
        if (m !== null && m[1] === '0') out.push(Number(e));
      } catch {
        // the process ended while we looked
      }
    }
    return out.length > 0 ? out : [this.pid];
  }

  /** Stops the non-secure world (SIGSTOP to the kernel and its helpers); returns the number of processes stopped. */
  stop(): number {
    if (this.gone || this.stoppedPids.length > 0) return 0;
    // Only the kernel process itself: a helper found in /proc may be a guest process being created (not yet
    // traced), and a SIGCONT to it once it is traced would reach UML's tracer as an unexpected stop.
    for (const p of [this.pid]) {
      try {
        process.kill(p, 'SIGSTOP');
        this.stoppedPids.push(p);
      } catch {
        // ended meanwhile
      }
    }
    // The guest's own processes (ptraced by the kernel) cannot take a SIGSTOP; a busy one would run on while its
    // kernel is stopped. The cgroup freezer stops them without a signal, invisibly to ptrace.
    if (this.freezer !== undefined) {
      try {
        writeFileSync(join(this.freezer, 'freezer.state'), 'FROZEN');
        this.frozen = true;
      } catch {
        // the cgroup is gone (UML exited)
      }
    }
    return this.stoppedPids.length;
  }

  /** How stop() stops Linux on this host. */
  get stopMethod(): 'sigstop+freezer' | 'sigstop' {
    return this.freezer !== undefined ? 'sigstop+freezer' : 'sigstop';
  }

  /** Continues what stop() stopped. */
  cont(): void {
    if (this.frozen && this.freezer !== undefined) {
      try {
        writeFileSync(join(this.freezer, 'freezer.state'), 'THAWED');
      } catch {
        // gone
      }
    }
    this.frozen = false;
    for (const p of this.stoppedPids) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        // ended meanwhile
      }
    }
    this.stoppedPids = [];
  }

  get stopped(): boolean {
    return this.stoppedPids.length > 0 || this.frozen;
  }

  private removeFreezer(): void {
    if (this.freezer === undefined) return;
    try {
      writeFileSync(join(this.freezer, 'freezer.state'), 'THAWED');
    } catch {
      // gone
    }
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.freezer);
        return;
      } catch {
        // still has members that are dying
      }
    }
  }

  /** Kills the whole group (SIGCONT first, so that stopped members die at once). */
  kill(): void {
    this.cont();
    this.killGroup();
  }

  private killGroup(): void {
    try {
      process.kill(-this.pid, 'SIGCONT');
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }
}
