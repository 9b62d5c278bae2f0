/** `tz-virtio run` as a user runs it: a subprocess of bin/tz-virtio.mjs (dist/ is built by the test script). */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../support/scratch.js';

const BIN = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));
const FX = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** The README's echo example: the tests run the partitions users are shown. */
const ECHO = fileURLToPath(new URL('../../examples/echo/', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'run', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tz-virtio run: the default scenario', () => {
  for (const cores of [1, 2]) {
    it(`answers and verifies every request, loses none, blocks the key read (--cores ${cores} --json)`, async () => {
      const dir = scratchDir('tzv-run-');
      const shm = join(dir, 'shm.bin');
      const r = await cli(['--cores', String(cores), '--messages', '300', '--json', '--dump-shm', shm]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.cores).toBe(cores);
      expect(j.messages).toEqual({ sent: 300, received: 300, lost: 0, corrupted: 0 });
      expect(j.securityFaults).toMatchObject({ attempted: 1, blocked: 1 });
      expect(j.securityFaults.records[0]).toMatchObject({ addr: j.keyAddress, world: 'nonsecure', access: 'read' });
      expect(j.keyLeaked).toBe(false);
      expect(j.rtTask.periodUs).toBe(1000);
      expect(j.rtTask.jobs).toBeGreaterThan(0);
      expect(typeof j.rtTask.deadlineMisses).toBe('number');
      expect(typeof j.rtTask.maxJitterUs).toBe('number');
      // the secure executive: sleeps until 250 µs before a release, then spins; the service ran in background steps
      expect(j.rtExecutive.wakeLead.baseUs).toBe(250);
      expect(j.rtExecutive.wakeLeadUs).toBeGreaterThanOrEqual(250);
      expect(j.rtExecutive.wakeLeadUs).toBeLessThanOrEqual(j.rtExecutive.wakeLead.maxUs);
      expect(j.measured).toEqual({ throughput: true, rtt: true });
      expect(j.rtExecutive.serviceSteps).toBeGreaterThanOrEqual(300);
      expect(j.throughputMBps).toBeGreaterThan(0);
      expect(j.rttUs.p99).toBeGreaterThanOrEqual(j.rttUs.p50);
      if (cores === 1) {
        expect(j.worldSwitches).toBeGreaterThan(0);
        expect(j.sgi.toSecure).toBe(0);
        expect(j.perCoreMs).toEqual([]);
      } else {
        expect(j.worldSwitches).toBe(0);
        // notifications both ways went through the distributor as SGIs; core 1's interface took what it was sent
        // (two SGIs before it looked coalesce into one pending bit)
        expect(j.sgi.toSecure).toBeGreaterThan(0);
        expect(j.sgi.toNonSecure).toBeGreaterThan(0);
        expect(j.sgi.receivedByNonSecure).toBeGreaterThan(0);
        expect(j.sgi.receivedByNonSecure).toBeLessThanOrEqual(j.sgi.toNonSecure);
        expect(j.sgi.acknowledgedNonSecure).toBeGreaterThanOrEqual(j.sgi.receivedByNonSecure);
        expect(j.perCoreMs.map((c: { core: number; world: string }) => [c.core, c.world])).toEqual([[0, 'secure'], [1, 'nonsecure']]);
      }
      expect(j.features).toContain('VIRTIO_RPMSG_F_NS');
      expect(existsSync(shm)).toBe(true);
      const layout = JSON.parse(readFileSync(`${shm}.json`, 'utf8'));
      expect(layout).toBeTypeOf('object');
    });
  }

  it('prints the text report', async () => {
    const r = await cli(['--messages', '100']);
    expect(r.code).toBe(0);
    for (const s of ['memory map', 'SECURE', 'world switches', 'preemption latency', 'rt task sensor', 'rt executive        idle sleep; wake lead', 'adaptive 250–350 µs', 'gc pauses           secure', 'security faults     attempted 1, blocked 1', 'result              OK']) {
      expect(r.stdout).toContain(s);
    }
  });
});

describe('tz-virtio run --scenario', () => {
  it('hostile: every attack listed as stopped, the platform\'s own records of what it blocked, the RT task ran', async () => {
    const r = await cli(['--scenario', 'hostile', '--cores', '2', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.scenario).toBe('hostile');
    expect(j.ok).toBe(true);
    expect(j.attacks.length).toBeGreaterThanOrEqual(10);
    for (const a of j.attacks) expect(a.stopped, a.name).toBe(true);
    // the service answered again after each channel reset (the guest's own observation, per ring attack)
    for (const a of j.attacks.filter((x: { outcome: string }) => /channel reset/.test(x.outcome))) expect(a.outcome).toMatch(/answered again/);
    expect(j.blocked.securityFaults.read).toBeGreaterThanOrEqual(1);
    expect(j.blocked.securityFaults.write).toBeGreaterThanOrEqual(1);
    expect(Object.values(j.blocked.smcRefused).reduce((a: number, b) => a + (b as number), 0)).toBeGreaterThanOrEqual(3);
    expect(j.blocked.ringViolations).toBeGreaterThanOrEqual(1);
    expect(j.blocked.linkResets).toBeGreaterThanOrEqual(1);
    expect(j.blocked.notifications.issued).toBeGreaterThan(1000);
    expect(j.partitions.secure.status).toBe('returned');
    expect(j.rtTask.jobs).toBeGreaterThan(0);
    expect(typeof j.rtTask.deadlineMisses).toBe('number');
  });

  it('echo: the docs example; --messages sets its count', async () => {
    const r = await cli(['--scenario', 'echo', '--messages', '40', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.messages).toEqual({ sent: 40, received: 40, lost: 0, corrupted: 0 });
  });

  it('refuses an unknown scenario, and --scenario with --secure', async () => {
    for (const args of [['--scenario', 'nope'], ['--scenario', 'echo', '--secure', join(ECHO, 'secure.mjs'), '--nonsecure', join(ECHO, 'nonsecure.mjs')]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--scenario/);
    }
  });
});

describe('tz-virtio run --crash-at', () => {
  it('kills the non-secure partition at message k, reboots it, and the stream completes exactly once', async () => {
    const r = await cli(['--cores', '2', '--messages', '300', '--crash-at', '120', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.reboots).toHaveLength(1);
    expect(j.reboots[0]).toMatchObject({ boot: 0, secureAcked: true });
    expect(j.messages).toEqual({ sent: 300, received: 300, lost: 0, corrupted: 0 });
    expect(j.partitions.secure.stats['delivery.once']).toBe(300);
    expect(j.partitions.secure.stats['delivery.twice']).toBe(0);
    expect(j.partitions.nonsecure.stats.boot).toBe(1);
  });

  it('refuses a bad crash mode', async () => {
    const r = await cli(['--crash-at', '5', '--crash-mode', 'explode']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--crash-mode/);
  });
});

describe('tz-virtio run: user partitions', () => {
  it('runs --secure/--nonsecure modules from a --config file', async () => {
    const r = await cli(['--config', join(FX, 'echo.json'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.cores).toBe(2);
    expect(j.messages).toEqual({ sent: 25, received: 25, lost: 0, corrupted: 0 });
    expect(j.partitions.secure.stats.ticks).toBeGreaterThan(0);
  });

  it('a guest that measures no throughput or round trip: "n/a" in the text, 0 and measured: false in JSON', async () => {
    const t = await cli(['--config', join(FX, 'echo.json')]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/throughput +n\/a/);
    expect(t.stdout).toMatch(/round trip +n\/a/);
    expect(t.stdout).not.toMatch(/0 MB\/s/);
    const j = JSON.parse((await cli(['--config', join(FX, 'echo.json'), '--json', '--rt-idle', 'spin'])).stdout);
    expect(j.throughputMBps).toBe(0);
    expect(j.rttUs.p50).toBe(0);
    expect(j.measured).toEqual({ throughput: false, rtt: false });
    expect(j.rtExecutive.idle).toBe('spin'); // echo.json: two cores
    expect(typeof j.gc.secure.count).toBe('number');
  });

  it('refuses a bad --rt-idle and an out-of-range --wake-lead', async () => {
    for (const [args, re] of [[['--rt-idle', 'nap'], /idle/], [['--wake-lead', '-5'], /--wake-lead/]] as const) {
      const r = await cli([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  });

  it('refuses bad options with a one-line error and exit code 2', async () => {
    for (const args of [['--cores', '3'], ['--secure', join(ECHO, 'secure.mjs')], ['--secure', 'nope.mjs', '--nonsecure', 'nope.mjs'], ['--messages', 'many'], ['--config', join(FX, 'missing.json')]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tz-virtio: /);
    }
  });
});
