/** `tz-virtio run --nonsecure-linux` as a user runs it: its flags' usage errors, and one JSON run where UML is installed. */
import { describe, expect, it } from 'vitest';
import { linuxUnavailable } from '../../src/hypervisor/linux/run-linux.js';
import { tzv, usageError } from '../cli/helpers.js';

const skip = linuxUnavailable();

describe('run --nonsecure-linux: flags', () => {
  it('--ring, --channel, --vsock-port, --frontend and --inband need --nonsecure-linux', async () => {
    usageError(await tzv(['run', '--ring', 'split', '--channel', 'vsock']), 'run', /--channel, --ring need --nonsecure-linux/);
    usageError(await tzv(['run', '--vsock-port', '7']), 'run', /--vsock-port needs --nonsecure-linux/);
    usageError(await tzv(['run', '--inband', '--frontend', 'qemu']), 'run', /--frontend, --inband need --nonsecure-linux/);
  });
  it('refuses an unknown channel or ring and a port out of range, naming the flag', async () => {
    usageError(await tzv(['run', '--nonsecure-linux', '--channel', 'pipe']), 'run', /--channel/);
    usageError(await tzv(['run', '--nonsecure-linux', '--ring', 'ring']), 'run', /--ring/);
    usageError(await tzv(['run', '--nonsecure-linux', '--vsock-port', '0']), 'run', /--vsock-port/);
  });
});

describe.skipIf(skip !== undefined)('run --nonsecure-linux --json', () => {
  it('two cores, split rings, port 4321: one JSON report, exit 0, the signer reached over vsock', { timeout: 180_000 }, async () => {
    const r = await tzv(['run', '--nonsecure-linux', '--cores', '2', '--ring', 'split', '--vsock-port', '4321', '--messages', '12', '--json'], { timeoutMs: 170_000 });
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, any>;
    expect(j['ok']).toBe(true);
    expect(j['channel']).toBe('vsock');
    expect(j['ringNegotiated']).toEqual({ console: 'split', vsock: 'split' });
    expect(j['messages']).toEqual({ sent: 12, received: 12, lost: 0, corrupted: 0 });
    expect(j['vsock']).toMatchObject({ port: 4321, guestCid: 3, service: { connections: 1, linesIn: 13 } });
    expect(j['worldSwitches']).toBe(0);
    expect(j['keyLeaked']).toBe(false);
  });
});
