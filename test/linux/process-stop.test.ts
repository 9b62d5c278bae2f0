/** The stop barrier of a world switch to the secure side: SIGSTOP, then wait until every thread of the process is stopped. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allThreadsStopped, stopAndWait } from '../../src/hypervisor/linux/process-stop.js';

const readdir = (p: string): string[] => readdirSync(p);
const read = (p: string): string => readFileSync(p, 'latin1');

describe('stopAndWait', () => {
  it('returns once every thread of a busy multi-threaded process is stopped, and SIGCONT lets them run again', async () => {
    // four threads spinning (worker threads of a node child): a stop must reach each of them
    const child = spawn(process.execPath, ['-e', "const { Worker } = require('node:worker_threads'); for (let i = 0; i < 3; i++) new Worker('for(;;){}', { eval: true }); setInterval(() => {}, 1000); for(;;){}"], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      // wait (bounded) until the workers exist
      for (let i = 0; i < 200 && readdirSync(`/proc/${pid}/task`).length < 4; i++) await new Promise((r) => setTimeout(r, 25));
      expect(readdirSync(`/proc/${pid}/task`).length).toBeGreaterThanOrEqual(4);
      expect(allThreadsStopped(pid, readdir, read)).toBe(false);
      expect(stopAndWait(pid, 10_000, readdir, read)).toBe('stopped');
      expect(allThreadsStopped(pid, readdir, read)).toBe(true);
      process.kill(pid, 'SIGCONT');
      let running = false;
      for (let i = 0; i < 400 && !running; i++) {
        running = !allThreadsStopped(pid, readdir, read);
        if (!running) await new Promise((r) => setTimeout(r, 5));
      }
      expect(running).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("says 'gone' for a process that does not exist, and a gone process counts as stopped", () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const pid = child.pid!;
    return new Promise<void>((res) =>
      child.on('exit', () => {
        expect(stopAndWait(pid, 100, readdir, read)).toBe('gone');
        expect(allThreadsStopped(pid, readdir, read)).toBe(true);
        res();
      }),
    );
  });

  it('reads the state after the last parenthesis (a thread name may hold spaces and parentheses)', () => {
    const files: Record<string, string> = {
      '/proc/7/task/7/stat': '7 (a) b) c) T 1 7 7 0',
      '/proc/7/task/8/stat': '8 (x (y) R 1 7 7 0',
    };
    const rd = (): string[] => ['7', '8'];
    const rf = (p: string): string => files[p]!;
    expect(allThreadsStopped(7, rd, rf)).toBe(false);
    files['/proc/7/task/8/stat'] = '8 (x (y) t 1 7 7 0';
    expect(allThreadsStopped(7, rd, rf)).toBe(true);
  });
});
