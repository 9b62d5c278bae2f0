/**
 * `run --nonsecure-linux`: a real Linux 6.1 (user-mode Linux) as the non-secure world. Its client asks the secure
 * signer for signatures over AF_VSOCK (Linux's vmw_vsock_virtio_transport on our vsock device) and logs on /dev/hvc0
 * (virtio_console on our console device), both over vhost-user; the console-only channel is covered too. Runs where
 * linux.uml is installed; otherwise one line says why it is skipped.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { linuxUnavailable, runLinuxMachine } from '../../src/hypervisor/linux/run-linux.js';
import { formatLinuxReport, linuxReportJson } from '../../src/hypervisor/linux/report.js';
import { isLinuxError } from '../../src/hypervisor/linux/errors.js';

const skip = linuxUnavailable();
if (skip !== undefined) console.log(`skipping Linux non-secure world tests: ${skip}`);

describe('run --nonsecure-linux: settings', () => {
  it('refuses a kernel that is not an executable file, with a typed error', async () => {
    await expect(runLinuxMachine({ kernel: '/nonexistent/linux.uml' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_UNAVAILABLE'));
  });
  it('refuses 3 cores, 0 messages, an unknown ring or channel, port 0 and guest CID 2', async () => {
    await expect(runLinuxMachine({ cores: 3 as 1 })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ messages: 0 })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ ring: 'ring' as 'split' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ channel: 'pipe' as 'vsock' })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ vsockPort: 0 })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ guestCid: 2 })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ guestEnv: { TZ_PORT: '1' } })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
    await expect(runLinuxMachine({ guestEnv: { X: 'a b' } })).rejects.toSatisfy((e) => isLinuxError(e, 'LINUX_ERR_BAD_CONFIG'));
  });
});

describe.skipIf(skip !== undefined)('run --nonsecure-linux: Linux asks the secure signer over AF_VSOCK, logs on /dev/hvc0', () => {
  it('one core, packed rings: every signature verified in Linux, Linux stopped in every secure slice and its counter still then', { timeout: 180_000 }, async () => {
    const r = await runLinuxMachine({ cores: 1, messages: 40, ring: 'packed', timeoutMs: 150_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.channel).toBe('vsock');
    expect(r.ringNegotiated).toEqual({ console: 'packed', vsock: 'packed' }); // Linux's packed-ring driver, live
    expect(r.guest?.verified).toBe(40);
    expect(r.signer.signed).toBe(40);
    // the signer was reached over vsock: one connection, the key request and 40 signatures, closed cleanly
    expect(r.vsock?.service).toMatchObject({ connections: 1, open: 0, linesIn: 41, linesOut: 41, overlong: 0, socketErrors: 0 });
    expect(r.vsock?.endpoint.dropped).toEqual({});
    expect(r.vhostUser.byDevice['vsock']?.activations).toBeGreaterThanOrEqual(1);
    // the log came through the console: the client's lines, the result among them
    expect(r.console.linesIn).toBeGreaterThanOrEqual(2);
    expect(r.resultVia).toBe('hvc0');
    expect(r.monitor.worldSwitches).toBeGreaterThanOrEqual(2 * 40);
    expect(r.monitor.worldSwitches % 2).toBe(0); // every stop was followed by a continue
    expect(r.guestCounter.probes).toBeGreaterThan(0);
    expect(r.guestCounter.whileLinuxRan).toBeGreaterThan(0);
    if (r.stopMethod === 'sigstop+freezer') expect(r.guestCounter.whileSecureHeldCore).toBe(0);
    expect(r.keyLeaked).toBe(false);
    const j = linuxReportJson(r);
    expect(j['messages']).toEqual({ sent: 40, received: 40, lost: 0, corrupted: 0 });
    expect(j['securityFaults']).toMatchObject({ attempted: 0, blocked: 0 });
    expect(j['channel']).toBe('vsock');
    expect(formatLinuxReport(r)).toContain('AF_VSOCK (CID 2, port 1234');
  });

  it('two cores, split rings: no world switch, Linux runs beside the secure world', { timeout: 180_000 }, async () => {
    const r = await runLinuxMachine({ cores: 2, messages: 20, ring: 'split', vsockPort: 5005, timeoutMs: 150_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(20);
    expect(r.vsock?.port).toBe(5005);
    expect(r.inbandNegotiated).toEqual({ console: false, vsock: false });
    expect(r.ringNegotiated).toEqual({ console: 'split', vsock: 'split' });
    expect(r.vsock?.service.connections).toBe(1);
    expect(r.monitor.worldSwitches).toBe(0);
    expect(r.vhostUser.errors).toBe(0);
  });

  for (const [cores, ring] of [
    [1, 'split'],
    [2, 'packed'],
  ] as const) {
    it(`${cores} core${cores === 1 ? '' : 's'}, ${ring} rings: the rest of the matrix, every signature verified over vsock`, { timeout: 180_000 }, async () => {
      const r = await runLinuxMachine({ cores, messages: 10, ring, timeoutMs: 150_000 });
      expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
      expect(r.guest?.verified).toBe(10);
      expect(r.ringNegotiated).toEqual({ console: ring, vsock: ring });
      expect(r.vsock?.service).toMatchObject({ connections: 1, open: 0, linesIn: 11 });
      expect(r.monitor.worldSwitches > 0).toBe(cores === 1);
    });
  }

  it('in-band notifications: kicks and calls as vhost-user messages on both sockets, every signature verified', { timeout: 180_000 }, async () => {
    const r = await runLinuxMachine({ cores: 1, messages: 10, inband: true, timeoutMs: 150_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(10);
    expect(r.inbandNegotiated).toEqual({ console: true, vsock: true });
    expect(r.vhostUser.kicks).toBeGreaterThan(0);
    expect(r.vhostUser.calls).toBeGreaterThan(0);
  });

  it('a hostile Linux client (overlong line, garbage, never reading) is refused or reset, and the signer goes on serving', { timeout: 180_000 }, async () => {
    const prelude = fileURLToPath(new URL('./fixtures/hostile_client.py', import.meta.url));
    let hostile: Record<string, unknown> | undefined;
    const r = await runLinuxMachine({
      cores: 2,
      messages: 5,
      timeoutMs: 150_000,
      guestEnv: { TZ_PRELUDE: prelude },
      onConsole: (l) => {
        if (l.startsWith('hvc0: TZ hostile ')) hostile = JSON.parse(l.slice('hvc0: TZ hostile '.length)) as Record<string, unknown>;
      },
    });
    // on failure, the secure side's view too (whether it reset the connection, how much it took in and sent out)
    expect(hostile, `${r.consoleTail.join('\n')}\nvsock: ${JSON.stringify(r.vsock)}`).toEqual({
      afterOverlong: 'K ',
      garbage: ['E ', 'E ', 'E '],
      // Linux's vsock turns our RST into EPIPE or ECONNRESET for the next send, depending on when it lands
      reset: expect.stringMatching(/^(BrokenPipeError|ConnectionResetError)$/),
    });
    expect(r.vsock?.service.overlong).toBe(1);
    expect(r.vsock?.service.resetUnread).toBe(1);
    expect(r.signer.refused).toBe(3);
    // then the ordinary client: every signature verified on a fresh connection
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(5);
    expect(r.vsock?.service.connections).toBe(3);
  });

  it('console channel, one core, split rings: the signer as lines on /dev/hvc0, no vsock device', { timeout: 180_000 }, async () => {
    const r = await runLinuxMachine({ cores: 1, messages: 15, ring: 'split', channel: 'console', timeoutMs: 150_000 });
    expect(r.problems, r.consoleTail.join('\n')).toEqual([]);
    expect(r.guest?.verified).toBe(15);
    expect(r.vsock).toBeUndefined();
    expect(Object.keys(r.vhostUser.byDevice)).toEqual(['console']);
    expect(r.console.linesIn).toBe(16);
    expect(r.resultVia).toBe('kernel');
    expect(r.monitor.worldSwitches).toBeGreaterThan(0);
  });
});
