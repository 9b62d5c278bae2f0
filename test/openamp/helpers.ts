import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../support/scratch.js';

/** Builds our independent C peer (test/openamp/fixtures/peer.c) into a fresh temp dir; returns its path. */
export function buildPeer(): { bin: string; dir: string } {
  const dir = scratchDir('tz-openamp-');
  const bin = join(dir, 'peer');
  const src = fileURLToPath(new URL('./fixtures/peer.c', import.meta.url));
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return { bin, dir };
}

export interface Peer {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function startPeer(bin: string, args: string[], timeoutMs = 20_000): Peer {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}
