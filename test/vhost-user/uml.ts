/**
 * Runs Debian's user-mode Linux (linux.uml, Linux 6.1 with CONFIG_VIRTIO_UML: a vhost-user front-end) against a
 * vhost-user socket, with the host filesystem as root and a committed init script. Tests skip when it is absent.
 */
import { spawn } from 'node:child_process';
import { findUml, umlEnv, umlModuleDir, umlUnavailable } from '../../src/host/uml.js';

export const UML_BIN = findUml();
export { umlModuleDir };

/** Why UML tests cannot run here, or undefined when they can. */
export function umlSkipReason(): string | undefined {
  const why = umlUnavailable();
  if (why !== undefined) return why;
  if (process.env['TZ_VIRTIO_UML'] !== '1') return 'set TZ_VIRTIO_UML=1 to boot linux.uml against the back-end (not yet passing)';
  return undefined;
}

export interface UmlRun {
  readonly code: number | null;
  readonly output: string;
  readonly timedOut: boolean;
}

/** Boots UML with `init` and extra kernel parameters; resolves when it exits (killed after timeoutMs). */
export function runUml(init: string, params: readonly string[], timeoutMs = 60_000): Promise<UmlRun> {
  const args = ['mem=64M', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${init}`, 'con=null', 'con0=null,fd:1', 'quiet', `TZ_MODDIR=${umlModuleDir()}`, ...params];
  return new Promise((resolve) => {
    const child = spawn(UML_BIN!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: umlEnv() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // UML runs several host processes in its own group
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone
      }
      resolve({ code, output, timedOut });
    });
  });
}
