/**
 * Exceptions the secure runtime catches (an RT job, a handler, the RPMsg link) are in the report — the summary, the
 * --json object and the text — and fail the result, not only a --verbose log line.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import { formatSummary, summarize, toJson } from '../../dist/src/hypervisor/report.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('errors caught by the secure runtime', () => {
  it('are listed in the report and fail the result', async () => {
    const r = await runMachine({
      cores: 2,
      timeoutMs: 30_000,
      afterNsExitMs: 20,
      secure: { module: fx('faulty-secure.mjs') },
      nonsecure: { module: fx('wake-nonsecure.mjs') },
    });
    expect(r.nonsecure.outcome?.status).toBe('returned');
    const s = summarize(r);
    expect(s.runtimeErrors.secure).toEqual({ count: 1, first: ['error in rt task sensor: sensor read failed'] });
    expect(s.ok).toBe(false);
    expect(s.problems).toEqual(['the secure runtime caught 1 error (first: error in rt task sensor: sensor read failed)']);
    const json = JSON.parse(JSON.stringify(toJson(s))) as Record<string, unknown>;
    expect(json['ok']).toBe(false);
    expect((json['runtimeErrors'] as { secure: unknown }).secure).toEqual({ count: 1, first: ['error in rt task sensor: sensor read failed'] });
    const text = formatSummary(s);
    expect(text).toMatch(/runtime errors      secure: 1 caught/);
    expect(text).toMatch(/^result +FAILED: .*the secure runtime caught 1 error/m);
  });

  it('an endpoint callback that throws is one of them (named by its endpoint), not only a link counter', async () => {
    const r = await runMachine({
      cores: 1,
      timeoutMs: 30_000,
      secure: { module: fx('throwing-callback-secure.mjs') },
      nonsecure: { module: fx('wake-nonsecure.mjs') },
    });
    expect(r.nonsecure.outcome?.status).toBe('returned');
    const s = summarize(r);
    // wake-nonsecure sends bytes 0, 1, 2 first: the one starting with 1 makes the callback throw, after its echo
    expect(s.runtimeErrors.secure).toEqual({ count: 1, first: ['error in rpmsg endpoint 1024 "echo" callback: callback bug'] });
    expect(s.ok).toBe(false);
    expect((r.secure.report?.['rpmsg'] as { callbackErrors: number }).callbackErrors).toBe(1);
  });

  it('a clean secure runtime reports none', async () => {
    const r = await runMachine({ cores: 1, timeoutMs: 30_000, secure: { module: fx('wake-secure.mjs') }, nonsecure: { module: fx('wake-nonsecure.mjs') } });
    const s = summarize(r);
    expect(s.runtimeErrors.secure).toEqual({ count: 0, first: [] });
    expect(s.ok).toBe(true);
  });
});
