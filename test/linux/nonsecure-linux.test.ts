/**
 * `run --nonsecure-linux`: a real Linux 6.1 (user-mode Linux) as the non-secure world, its virtio_console driver on
 * our vhost-user back-end, the secure signer answering its client. Runs where linux.uml is installed; otherwise one
 * line says why it is skipped.
 */
import { describe, expect, it } from 'vitest';
import { linuxUnavailable, runLinuxMachine } from '../../src/hypervisor/linux/run-linux.js';
import { linuxReportJson } from '../../src/hypervisor/linux/report.js';
import { isLinuxError } from '../../src/hypervisor/linux/errors.js';

const skip = linuxUnavailable();
if (skip !== undefined) console.log(`skipping Linux non-secure world tests: ${skip}`);

describe('run --nonsecure-linux: settings', () => {
  it('refuses a kernel that is not an executable file, with a typed error', async () => {
    await expect(runLinuxMachine({ kernel: '/nonexistent/linux.uml' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_UNAVAILABLE'));
  });
  it('refuses 3 cores and 0 messages', async () => {
    await expect(runLinuxMachine({ cores: 3 as 1 })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ messages: 0 })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
  });
});

describe.skipIf(skip !== undefined)('run --nonsecure-linux: Linux asks the secure signer over /dev/hvc0', () => {
  it('one core: every signature verified in Linux, Linux stopped in every secure slice and its counter still then', { timeout: 180_000 }, async () => {
    const r = await runLinuxMachine({ cores: 1, messages: 40, timeoutMs: 150_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(40);
    expect(r.signer.signed).toBe(40);
    expect(r.monitor.worldSwitches).toBeGreaterThanOrEqual(2 * 40);
    expect(r.monitor.worldSwitches % 2).toBe(0); // every stop was followed by a continue
    expect(r.guestCounter.probes).toBeGreaterThan(0);
    expect(r.guestCounter.whileLinuxRan).toBeGreaterThan(0);
    if (r.stopMethod === 'sigstop+freezer') expect(r.guestCounter.whileSecureHeldCore).toBe(0);
    expect(r.keyLeaked).toBe(false);
    const j = linuxReportJson(r);
    expect(j['messages']).toEqual({ sent: 40, received: 40, lost: 0, corrupted: 0 });
    expect(j['securityFaults']).toMatchObject({ attempted: 0, blocked: 0 });
  });

  it('two cores, split rings: no world switch, Linux runs beside the secure world', { timeout: 180_000 }, async () => {
    const r = await runLinuxMachine({ cores: 2, messages: 20, ring: 'split', timeoutMs: 150_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(20);
    expect(r.monitor.worldSwitches).toBe(0);
    expect(r.vhostUser.errors).toBe(0);
  });
});
