/**
 * `run --nonsecure-linux --frontend qemu`: the same machine with QEMU running Debian's own Linux 6.1 as the non-secure
 * world; its vmw_vsock_virtio_transport (over virtio_pci and QEMU's vhost-user-vsock-pci) reaches the secure signer
 * through the same vsock device and vhost-user back-end; the client is the same Python program, run from the host's
 * root mounted read-only over 9p. Skipped with one line where QEMU (or the guest kernel, busybox-static) is missing.
 */
import { describe, expect, it } from 'vitest';
import { isLinuxError } from '../../src/hypervisor/linux/errors.js';
import { formatLinuxReport, linuxReportJson } from '../../src/hypervisor/linux/report.js';
import { linuxUnavailable, runLinuxMachine } from '../../src/hypervisor/linux/run-linux.js';

const skip = linuxUnavailable(undefined, 'qemu');
if (skip !== undefined) console.log(`skipping QEMU non-secure world tests: ${skip}`);

describe('run --nonsecure-linux --frontend qemu: settings', () => {
  it('refuses the console channel and a UML kernel with QEMU, and an unknown front-end, with typed errors', async () => {
    await expect(runLinuxMachine({ frontend: 'qemu', channel: 'console' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ frontend: 'qemu', kernel: '/usr/bin/linux.uml' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ frontend: 'kvmtool' as 'qemu' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
  });
});

describe.skipIf(skip !== undefined)('run --nonsecure-linux --frontend qemu', () => {
  it('one core, split rings: every signature verified in Linux under QEMU, QEMU stopped in every secure slice and the counter still then', { timeout: 240_000 }, async () => {
    const r = await runLinuxMachine({ frontend: 'qemu', cores: 1, messages: 15, ring: 'split', timeoutMs: 200_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.frontend).toBe('qemu');
    expect(r.kernel).toMatch(/^\/boot\/vmlinuz-/);
    expect(r.guest?.verified).toBe(15);
    expect(r.ringNegotiated).toEqual({ vsock: 'split' });
    expect(r.vsock?.service).toMatchObject({ connections: 1, open: 0, linesIn: 16, socketErrors: 0 });
    expect(Object.keys(r.vhostUser.byDevice)).toEqual(['vsock']);
    expect(r.stopMethod).toBe('sigstop');
    expect(r.lateStops).toBe(0);
    expect(r.monitor.worldSwitches).toBeGreaterThan(2 * 15);
    expect(r.monitor.worldSwitches % 2).toBe(0);
    // QEMU is one untraced process: SIGSTOP freezes every vCPU, so the guest's counter cannot move in a slice
    expect(r.guestCounter.probes).toBeGreaterThan(0);
    expect(r.guestCounter.whileSecureHeldCore).toBe(0);
    expect(r.guestCounter.whileLinuxRan).toBeGreaterThan(0);
    expect(r.keyLeaked).toBe(false);
    expect(linuxReportJson(r)['frontend']).toBe('qemu');
    expect(formatLinuxReport(r)).toContain('under QEMU');
  });

  it('two cores, packed rings: Linux under QEMU beside the secure world, no world switch', { timeout: 240_000 }, async () => {
    const r = await runLinuxMachine({ frontend: 'qemu', cores: 2, messages: 10, ring: 'packed', timeoutMs: 200_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(10);
    expect(r.ringNegotiated).toEqual({ vsock: 'packed' });
    expect(r.monitor.worldSwitches).toBe(0);
    expect(r.vhostUser.errors).toBe(0);
  });
});
