/**
 * `--isolation process` with a crash of the non-secure partition mid-stream (--crash-at): the same orchestration as
 * with workers (runMachine), so the dead process is replaced by a fresh one given the non-secure files only, and the
 * stream completes with every request delivered exactly once. Run from dist/ (the test script builds first).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PartitionProcessInfo } from '../../../dist/src/hypervisor/launcher.js';
import type { CrashMode } from '../../../dist/src/hypervisor/partition-worker.js';
import { expectRecoveredStream, runCrashedStream } from '../stream-recovery.js';

const TOTAL = 300;
const K = 120;

describe('process isolation: the non-secure process dies mid-stream and a fresh one is booted', () => {
  const cases: Array<[1 | 2, CrashMode]> = [
    [1, 'terminate'],
    [2, 'exit'],
  ];
  for (const [cores, mode] of cases) {
    it(`cores ${cores}, ${mode} at message ${K}: delivered exactly once, no non-secure process ever maps a secure file`, async () => {
      const seen: Array<{ info: PartitionProcessInfo; maps: string }> = [];
      const r = await runCrashedStream(
        { cores, mode, total: TOTAL, k: K },
        { isolation: 'process', onProcess: (info) => seen.push({ info, maps: readFileSync(`/proc/${info.pid}/maps`, 'utf8') }) },
      );
      expect(r.isolation).toBe('process');
      expectRecoveredStream(r, TOTAL, K, mode);

      // one secure process, then one process per non-secure boot, each a different pid
      expect(seen.map((p) => p.info.world)).toEqual(['secure', 'nonsecure', 'nonsecure']);
      expect(r.processes.map((p) => p.pid)).toEqual(seen.map((p) => p.info.pid));
      expect(new Set(seen.map((p) => p.info.pid)).size).toBe(3);
      const secureFiles = seen[0]!.info.files.filter((f) => /secure-ram$|ctl-secure$/.test(f));
      expect(secureFiles).toHaveLength(2);
      for (const f of secureFiles) expect(seen[0]!.maps).toContain(f);
      for (const boot of seen.slice(1)) {
        // positive control: the rebooted process maps the same non-secure files as the first one
        expect(boot.info.files).toEqual(seen[1]!.info.files);
        expect(boot.maps).toContain(boot.info.files.find((f) => f.endsWith('/ipc')));
        expect(boot.maps).not.toMatch(/secure-ram|ctl-secure/);
        expect(boot.info.files.some((f) => /secure-ram|ctl-secure/.test(f))).toBe(false);
      }
      // the machine's private shared-file directory is gone after the run
      expect(existsSync(dirname(secureFiles[0]!))).toBe(false);
    });
  }
});
