/**
 * Runs Debian's user-mode Linux (linux.uml, Linux 6.1 with CONFIG_VIRTIO_UML: a vhost-user front-end) against a
 * vhost-user socket, with the host filesystem as root and a committed init script. Tests skip when it is absent.
 */
import { spawn } from 'node:child_process';
import { findUml, umlArgs, umlEnv, umlModuleDir, umlUnavailable } from '../../src/host/uml.js';

export const UML_BIN = findUml();
export { umlModuleDir };

/** Why UML tests cannot run here (one line), or undefined when they can. */
export function umlSkipReason(): string | undefined {
  return umlUnavailable();
}

export interface UmlRun {
  readonly code: number | null;
  /** Everything UML printed (kernel log and the init script's output), for assertions and failure messages. */
  readonly output: string;
  readonly timedOut: boolean;
}

export interface UmlRunOptions {
  /** Guest init script (committed under fixtures/). */
  readonly init: string;
  /** Extra kernel parameters (virtio_uml.device=SOCK:ID, NAME=value for the script). */
  readonly params: readonly string[];
  /** Directory for UML's instance files (a temp dir the test removes). */
  readonly umlDir: string;
  /** Guest RAM in MiB (a sparse file: only what the guest touches is used). Default 64. */
  readonly memMiB?: number;
  /** Killed (whole process group) after this long. Default 90 s: boots take seconds, more under heavy load. */
  readonly timeoutMs?: number;
  /** Called with each chunk of output as it arrives (a test that must react while the guest runs). */
  readonly onOutput?: (chunk: string, all: string) => void;
}

export interface UmlHandle {
  readonly pid: number;
  /** Resolves when UML has exited (powered off, crashed or killed). */
  readonly done: Promise<UmlRun>;
  /** Kills UML's whole process group now. */
  kill(): void;
}

/** Boots UML; the handle's `done` resolves when it exits. */
export function startUml(o: UmlRunOptions): UmlHandle {
  const args = umlArgs({ init: o.init, umlDir: o.umlDir, params: o.params, ...(o.memMiB !== undefined ? { memMiB: o.memMiB } : {}) });
  const child = spawn(UML_BIN!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: umlEnv() });
  let output = '';
  const onData = (d: Buffer) => {
    const chunk = d.toString();
    output += chunk;
    o.onOutput?.(chunk, output);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL'); // UML runs several host processes in its own group
    } catch {
      // the group is gone
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, o.timeoutMs ?? 90_000);
  const done = new Promise<UmlRun>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup();
      resolve({ code, output, timedOut });
    });
  });
  return { pid: child.pid!, done, kill: killGroup };
}

/** Boots UML and resolves when it exits. */
export function runUml(o: UmlRunOptions): Promise<UmlRun> {
  return startUml(o).done;
}

/** The lines the guest script printed with a prefix ("RESULT ..."), in order. */
export function guestLines(output: string, prefix: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).replace(/\r$/, ''));
}

/**
 * Back-end errors split by when they happened: while the guest ran, or after its init printed "GUEST done" (then
 * sleeps, then powers off). At power-off UML removes its virtio devices; virtio_uml does not pass the driver's reset
 * (status 0) on to the back-end, and Linux then rewinds avail.idx over the buffers it takes back
 * (virtqueue_detach_unused_buf), which our device rightly reports as a ring rule broken (AVAIL_IDX_TOO_FAR) if it
 * looks at the ring in that window. Only that error is tolerated, and only in that window.
 */
export class ErrorWindow {
  readonly whileRunning: string[] = [];
  readonly atTeardown: string[] = [];
  private done = false;

  constructor(backend: { onError(l: (e: Error) => void): void }) {
    backend.onError((e) => (this.done ? this.atTeardown : this.whileRunning).push(e.message));
  }

  /** Pass every output chunk (or call with the whole output so far). */
  see(output: string): void {
    if (output.includes('GUEST done')) this.done = true;
  }

  /** Errors that are not the benign teardown rewind. */
  get unexpected(): string[] {
    return [...this.whileRunning, ...this.atTeardown.filter((m) => !m.includes('VIRTIO_ERR_AVAIL_IDX_TOO_FAR'))];
  }
}
