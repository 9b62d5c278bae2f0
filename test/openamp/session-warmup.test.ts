/**
 * The session warm-up: this thread plays a role on a private session pair whose other role runs in a worker
 * (compiled dist/, as every worker of the project), then leaves nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { warmUpSession, MAX_SESSION_WARMUP_MESSAGES } from '../../src/openamp/session-warmup.js';
import { OpenAmpErrorCode } from '../../src/openamp/errors.js';

const leftovers = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('tz-openamp-warmup-'));

describe('session warm-up', () => {
  it.each(['host', 'remote'] as const)('as %s: echoes every message through the private pair and removes its temp folder', async (role) => {
    const before = leftovers().length;
    const r = await warmUpSession(role, 600, { timeoutMs: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.messages).toBe(600);
    expect(leftovers().length).toBeLessThanOrEqual(before);
  }, 60_000);

  it('on the event-loop kick path too', async () => {
    const r = await warmUpSession('host', 300, { kicks: 'event-loop', timeoutMs: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.messages).toBe(300);
  }, 60_000);

  it('0 messages does nothing; a bad count or role is a typed error', async () => {
    expect(await warmUpSession('host', 0)).toEqual({ messages: 0, ms: 0 });
    for (const bad of [-1, 0.5, MAX_SESSION_WARMUP_MESSAGES + 1]) {
      await expect(warmUpSession('host', bad)).rejects.toMatchObject({ code: OpenAmpErrorCode.BAD_ARGUMENT });
    }
    await expect(warmUpSession('peer' as never, 10)).rejects.toMatchObject({ code: OpenAmpErrorCode.BAD_ARGUMENT });
  });
});
