/**
 * A secure partition that cannot start is reported at once, with the file and (syntax errors) line and column, not
 * at the run's timeout; one that spins without calling into ctx is named as such. "At once" is checked without a
 * clock: the non-secure client waits up to 10 s for its service, and it must have been stopped by the machine
 * (status "stopped") rather than have given up by itself (status "threw", a NO_RPMSG timeout).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import { summarize } from '../../dist/src/hypervisor/report.js';
import { parseCheckOutput } from '../../dist/src/hypervisor/guest-loader.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tzv-bootfail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

const runWith = (secure: string, cores: 1 | 2 = 1, timeoutMs = 60_000) =>
  runMachine({
    cores,
    timeoutMs,
    maxReboots: 0,
    secure: { module: secure },
    nonsecure: { module: fx('wake-nonsecure.mjs'), args: { findTimeoutUs: 10_000_000 } },
  });

describe('a secure partition that fails to load fails the run at once, naming the file', () => {
  const garbage = new Uint8Array(256).map((_, i) => (i * 131 + 7) & 0xff);
  const cases: Array<{ what: string; make: () => string; expect: RegExp }> = [
    { what: 'a syntax error (line and column)', make: () => file('syntax.mjs', 'export default async function main(ctx) {\n  ctx.log(;\n}\n'), expect: /syntax\.mjs \(line 2, column 11\): SyntaxError: Unexpected token ';'/ },
    { what: 'an empty file', make: () => file('empty.mjs', ''), expect: /empty\.mjs exports no main function/ },
    { what: 'garbage bytes', make: () => file('garbage.mjs', garbage), expect: /garbage\.mjs \(line \d+(, column \d+)?\): SyntaxError/ },
    { what: 'a directory', make: () => (mkdirSync(join(dir, 'dir.mjs')), join(dir, 'dir.mjs')), expect: /dir\.mjs: not a regular file \(a directory\)/ },
    { what: 'a main that throws (with the throwing line)', make: () => file('throws.mjs', 'export default async function main(ctx) {\n  throw new Error("boom");\n}\n'), expect: /^Error: boom \(at .*throws\.mjs:2:9\)$/ },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const r = await runWith(c.make());
      expect(r.secure.outcome?.status).toBe('threw');
      expect(r.secure.outcome?.error).toMatch(c.expect);
      // stopped by the machine before its own 10 s wait for the service ran out (or, when the secure failure came
      // first, stopped before its main had even started: no outcome)
      expect([undefined, 'stopped']).toContain(r.nonsecure.outcome?.status);
      expect(r.timedOut).toBe(false);
      const s = summarize(r);
      expect(s.ok).toBe(false);
      expect(s.problems).toEqual([`secure partition failed: ${r.secure.outcome!.error}`]);
    });
  }
});

describe('a partition that never calls into ctx', () => {
  for (const cores of [1, 2] as const) {
    it(`is reported as such, by the progress watchdog before the run's timeout (cores: ${cores})`, async () => {
      const r = await runWith(fx('spin-secure.mjs'), cores);
      expect(r.timedOut).toBe(false);
      expect(r.nonsecure.outcome?.status).toBe('stopped');
      expect(r.secure.crash).toMatch(/the secure partition never called into ctx: its main runs without an API call/);
      expect(summarize(r).problems.join('; ')).toMatch(/never called into ctx/);
    });
  }
});

describe('node --check output', () => {
  it('gives line and column from the caret', () => {
    const out = '/x/a.mjs:3\n  foo(;\n      ^\n\nSyntaxError: Unexpected token \';\'\n';
    expect(parseCheckOutput(out, '/x/a.mjs')).toBe('line 3, column 7');
    expect(parseCheckOutput('something else', '/x/a.mjs')).toBeUndefined();
  });
});
