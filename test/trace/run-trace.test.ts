/** `tz-virtio run --trace` as a user runs it: the trace of a short run, checked against the run's own report. */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateChromeTrace, type ChromeTrace } from '../../src/trace/index.js';

const BIN = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tzv-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'run', ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tz-virtio run --trace', () => {
  for (const [cores, isolation] of [
    [1, 'worker'],
    [2, 'worker'],
    [1, 'process'],
  ] as const) {
    it(`writes a well-formed trace whose counts match the report (--cores ${cores}, ${isolation})`, async () => {
      const file = join(dir, `t-${cores}-${isolation}.json`);
      const r = await run(['--cores', String(cores), '--isolation', isolation, '--messages', '150', '--json', '--trace', file]);
      expect(r.stderr).toBe('');
      const j = JSON.parse(r.stdout);
      expect(j.trace).toMatchObject({ file, droppedEvents: 0, refusedEvents: 0 });
      const trace = JSON.parse(readFileSync(file, 'utf8')) as ChromeTrace;
      expect(validateChromeTrace(trace)).toEqual([]);
      const ev = trace.traceEvents;
      // one world-switch instant per switch the monitor counted (none on two cores: one world per core)
      expect(ev.filter((e) => e.cat === 'world-switch').length).toBe(j.worldSwitches);
      const coreTracks = new Set(ev.filter((e) => e.pid === 1 && e.ph === 'X').map((e) => e.tid));
      expect([...coreTracks].sort()).toEqual(cores === 1 ? [0] : [0, 1]);
      // RT: one job slice per job, releases cover the jobs, one miss instant per miss, each with a named cause
      const jobs = ev.filter((e) => e.cat === 'rt' && e.ph === 'X' && !e.args?.unfinished);
      expect(jobs.length).toBe(j.rtTask.jobs);
      const releases = ev.filter((e) => e.name === 'release').length;
      expect(releases).toBeGreaterThanOrEqual(j.rtTask.jobs);
      expect(releases).toBeLessThanOrEqual(j.rtTask.jobs + j.rtTask.skippedReleases + 1);
      const misses = ev.filter((e) => e.name === 'deadline miss');
      expect(misses.length).toBe(j.rtTask.deadlineMisses);
      for (const m of misses) expect(typeof m.args?.cause).toBe('string');
      const byCause: Record<string, number> = {};
      for (const m of misses) byCause[String(m.args!.cause)] = (byCause[String(m.args!.cause)] ?? 0) + 1;
      expect(byCause).toEqual(j.rtTask.missesByCause);
      // every RPMsg message of the run: the client's requests and the service's answers, both sides
      expect(ev.filter((e) => e.name === 'rpmsg send' && e.pid === 3).length).toBeGreaterThanOrEqual(150);
      expect(ev.filter((e) => e.name === 'rpmsg recv' && e.pid === 3).length).toBeGreaterThanOrEqual(150);
      // rings: both sides of both vrings, and every buffer's trip drawn as paired arrows (validated above)
      const ringTracks = new Set(ev.filter((e) => e.cat === 'ring').map((e) => e.tid));
      expect([...ringTracks].sort()).toEqual([0, 1, 2, 3]);
      const flows = ev.filter((e) => e.ph === 's').length;
      expect(flows).toBeGreaterThanOrEqual(300);
      expect(ev.filter((e) => e.ph === 'f').length).toBe(flows);
      // the blocked key read is on the non-secure partition's fault track
      expect(ev.filter((e) => e.cat === 'fault').length).toBe(j.securityFaults.attempted);
      expect(statSync(`${file}.png`).size).toBeGreaterThan(1000);
      expect(readFileSync(`${file}.svg`, 'utf8')).toMatch(/^<svg/);
    });
  }

  it('refuses trace options that cannot work before running anything', async () => {
    const r1 = await run(['--trace-limit', '100']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--trace-limit and --trace-window need --trace/);
    const r2 = await run(['--trace', join(dir, 'no-such-dir', 't.json')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/cannot write in .*ENOENT/);
    const r3 = await run(['--trace', join(dir, 'w.json'), '--trace-window', '5:1']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/END must be after START/);
  });

  it('a small --trace-limit bounds the recording and says how much was dropped', async () => {
    const file = join(dir, 'limited.json');
    const r = await run(['--messages', '100', '--json', '--trace', file, '--trace-limit', '40']);
    const j = JSON.parse(r.stdout);
    expect(j.trace.droppedEvents).toBeGreaterThan(0);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as ChromeTrace;
    expect(validateChromeTrace(trace)).toEqual([]);
  });
});
