/**
 * The text report for a newcomer: two plain lines on what the run did, one line per term, and a result line that
 * never says a bare "OK" when the secure RT tasks missed deadlines (it says how many and why, here).
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import { formatSummary, storyOf, summarize, toJson } from '../../dist/src/hypervisor/report.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const resultLine = (text: string) => text.split('\n').find((l) => l.startsWith('result'))!;

describe('RT deadline misses qualify the result', () => {
  it('a run whose RT jobs overrun their deadline says so on the result line, with the reason', async () => {
    const r = await runMachine({ cores: 2, timeoutMs: 30_000, afterNsExitMs: 30, secure: { module: fx('overrun-secure.mjs') }, nonsecure: { module: fx('wake-nonsecure.mjs') } });
    const s = summarize(r);
    expect(s.ok).toBe(true);
    expect(s.rtDeadlinesMet).toBe(false);
    const t = s.rtTasks[0]!;
    expect(t.deadlineMisses).toBeGreaterThan(0);
    expect(s.warnings).toEqual([`the secure RT tasks missed ${t.deadlineMisses} of ${t.jobs + t.skippedReleases} deadlines (${Math.round((1000 * t.deadlineMisses) / (t.jobs + t.skippedReleases)) / 10} %): the real-time guarantee was not met on this host (see "rt misses")`]);
    const text = formatSummary(s);
    expect(resultLine(text)).toBe(`result              OK, but ${s.warnings[0]}`);
    expect(text).toMatch(/^rt misses +\d+ of \d+ releases missed their deadline .*Why here: the secure world is a thread/m);
    expect(text).toMatch(/On the board the secure world owns its core/);
    const j = toJson(s);
    expect(j['rtDeadlinesMet']).toBe(false);
    expect(j['warnings']).toEqual(s.warnings);
  });

  it('a run without RT misses ends with a plain OK and no rt misses lines', async () => {
    const r = await runMachine({ cores: 1, timeoutMs: 30_000, secure: { module: fx('wake-secure.mjs') }, nonsecure: { module: fx('wake-nonsecure.mjs') } });
    const s = summarize(r);
    expect(s.rtDeadlinesMet).toBe(true);
    const text = formatSummary(s);
    expect(resultLine(text)).toBe('result              OK');
    expect(text).not.toMatch(/rt misses/);
    // the opening says what ran, the terms are explained
    expect(text.split('\n')[1]).toBe('  Your secure and non-secure partitions ran on one core shared by both worlds.');
    expect(text.split('\n')[2]).toBe('  The non-secure side reported 3 messages sent and 3 received (its ctx.stats messages.*).');
    for (const term of ['world switch', 'FIQ / IRQ', 'preemption latency']) expect(text).toMatch(new RegExp(`^  ${term} +\\S`, 'm'));
  });
});

describe('the two-line story', () => {
  const base = { cores: 1, attacks: [], keyAddress: '0x3c001000', keyLeaked: false, attempted: 1, blocked: 1, secureUser: { signed: 1751, verified: 249 } };
  it('default: the signer, the key in secure RAM, what the client got and that its key read was refused', () => {
    expect(storyOf({ ...base, scenario: 'default', messages: { sent: 2000, received: 2000, lost: 0, corrupted: 0 } })).toEqual([
      'The secure world ran an Ed25519 signing service whose private key lives only in secure RAM (0x3c001000), next to a 1 kHz sensor task.',
      'The non-secure client sent 2000 sign/verify requests over RPMsg (1751 signed, 249 verified), got all 2000 answers back and checked them, and its 1 attempt to read the key was refused (SecurityFault).',
    ]);
  });
  it('never claims what the counters do not show (lost answers, a leaked key)', () => {
    const [, second] = storyOf({ ...base, scenario: 'default', keyLeaked: true, messages: { sent: 10, received: 8, lost: 2, corrupted: 0 } });
    expect(second).toMatch(/got 8 answers back \(2 lost, 0 failed their check\), and READ THE KEY/);
  });
  it('hostile: attacks tried and stopped', () => {
    const attacks = [{ name: 'a', outcome: 'x', stopped: true }, { name: 'b', outcome: 'y', stopped: true }];
    expect(storyOf({ ...base, scenario: 'hostile', attacks, messages: { sent: 0, received: 0, lost: 0, corrupted: 0 } })[1]).toBe(
      'It tried 2 attacks on memory, SMCs, interrupts and the shared rings; 2 of them were stopped, and the key never left the secure world.',
    );
  });
});
