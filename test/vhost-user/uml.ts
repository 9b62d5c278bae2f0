/**
 * Runs Debian's user-mode Linux (linux.uml, Linux 6.1 with CONFIG_VIRTIO_UML: a vhost-user front-end) against a
 * vhost-user socket, with the host filesystem as root and a committed init script. Tests skip when it is absent.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const UML_BIN = ['/usr/bin/linux.uml', '/usr/bin/linux'].find((p) => existsSync(p) && p.endsWith('linux.uml'));

/** /usr/lib/uml/modules/<version>, or undefined. */
export function umlModuleDir(): string | undefined {
  const base = '/usr/lib/uml/modules';
  if (!existsSync(base)) return undefined;
  const v = readdirSync(base).sort().pop();
  return v === undefined ? undefined : join(base, v);
}

/** Why UML tests cannot run here, or undefined when they can. */
export function umlSkipReason(): string | undefined {
  if (UML_BIN === undefined) return 'linux.uml is not installed (apt-get install user-mode-linux)';
  if (umlModuleDir() === undefined) return '/usr/lib/uml/modules is missing (apt-get install user-mode-linux)';
  // Opt-in for now: on the shared 2-core test machine UML's early boot stalled for minutes under load and one run
  // died in init ("ptrace set fp regs failed"); the tests must not turn that into failures of the suite.
  if (process.env['TZ_VIRTIO_UML'] !== '1') return 'set TZ_VIRTIO_UML=1 to boot linux.uml against the back-end';
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
    const child = spawn(UML_BIN!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
