/**
 * vitest globalSetup: the whole run gets a private TMPDIR (inherited by every test process and every child they
 * start), and the run fails if anything is left in it at the end: a test must remove what it creates. The directory
 * itself is then removed, so a failed check leaves nothing behind either.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const outer = tmpdir();
  const dir = mkdtempSync(join(outer, 'tzv-test-run-'));
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = dir;
  return () => {
    const left = readdirSync(dir);
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
    if (left.length > 0) {
      // vitest reports an error thrown here but keeps its exit code: fail the run ourselves
      process.exitCode = 1;
      throw new Error(`tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temp dir: ${left.sort().join(', ')} (use scratchDir from test/support/scratch.ts, or remove them)`);
    }
  };
}
