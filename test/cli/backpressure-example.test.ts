/**
 * examples/backpressure: a secure echo service that queues replies when no TX buffer is free. With 512 requests in
 * flight (two rings' worth) every one gets its reply; the README's `void ep.send(...)` form would lose half.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { tzv } from './helpers.js';

const EX = fileURLToPath(new URL('../../examples/backpressure/', import.meta.url));

describe('examples/backpressure', () => {
  it('512 requests in flight all get replies (1 core)', async () => {
    const r = await tzv(['run', '--cores', '1', '--secure', `${EX}secure.mjs`, '--nonsecure', `${EX}nonsecure.mjs`, '--json', '--timeout-ms', '90000'], { timeoutMs: 120_000 });
    const j = JSON.parse(r.stdout);
    expect(j.messages).toEqual({ sent: 512, received: 512, lost: 0, corrupted: 0 });
    // the secure side did have to wait for buffers: the queue was used
    expect(j.partitions.secure.stats['replies.queuedRounds']).toBeGreaterThan(0);
  });
});
