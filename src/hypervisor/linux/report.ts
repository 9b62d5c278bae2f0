/**
 * The report of `tz-virtio run --nonsecure-linux`: the fields of `tz-virtio run --json` that apply (messages, RTT,
 * throughput, world switches, time per world, security faults, keyLeaked, ok/problems/story) plus what only a real
 * Linux shows (its progress counter, the vhost-user session, the console tail).
 */
import type { LinuxRunResult } from './run-linux.js';

const r1 = (x: number): number => Math.round(x * 10) / 10;

export function linuxReportJson(r: LinuxRunResult): Record<string, unknown> {
  const g = r.guest;
  const sent = g?.sent ?? 0;
  const received = g?.answered ?? 0;
  const who = r.frontend === 'qemu' ? "A process of Debian's Linux 6.1 under QEMU" : 'A Linux 6.1 process (user-mode Linux)';
  const log = r.frontend === 'qemu' ? 'logged on its serial console' : 'logged on /dev/hvc0 (virtio_console)';
  return {
    nonsecure: 'linux',
    frontend: r.frontend,
    kernel: r.kernel,
    cores: r.cores,
    ring: r.ring,
    ringNegotiated: r.ringNegotiated,
    channel: r.channel,
    inband: r.inband,
    inbandNegotiated: r.inbandNegotiated,
    ok: r.ok,
    problems: r.problems,
    story: [
      r.channel === 'vsock'
        ? `${who} asked the secure Ed25519 signer for ${sent} signatures over AF_VSOCK (CID 2, port ${r.vsock?.port ?? 0}) through Linux's own vmw_vsock_virtio_transport and our vhost-user back-end; it verified ${g?.verified ?? 0} and ${log}.`
        : `A Linux 6.1 process (user-mode Linux) asked the secure Ed25519 signer for ${sent} signatures through Linux's own virtio_console driver (/dev/hvc0) and our vhost-user back-end; it verified ${g?.verified ?? 0}.`,
      r.cores === 1
        ? `One core: the secure world held the core ${r.monitor.secureSlices} times (Linux stopped each time: ${r.monitor.worldSwitches} world switches); Linux's own counter moved ${r.guestCounter.whileSecureHeldCore} while stopped and ${r.guestCounter.whileLinuxRan} while running.`
        : `Two cores: Linux and the secure world ran side by side (no world switches); Linux's counter moved ${r.guestCounter.whileSecureHeldCore} during secure slices.`,
    ],
    messages: { sent, received, lost: g?.lost ?? 0, corrupted: g?.badSignatures ?? 0 },
    throughputMBps: g !== undefined && g.elapsedS > 0 ? Math.round((g.bytesMoved / g.elapsedS / 1e6) * 1000) / 1000 : 0,
    rttUs: g !== undefined ? { p50: r1(g.rttUs.p50), p99: r1(g.rttUs.p99), mean: r1(g.rttUs.mean), max: r1(g.rttUs.max) } : { p50: 0, p99: 0, mean: 0, max: 0 },
    measured: { throughput: g !== undefined, rtt: g !== undefined },
    worldSwitches: r.monitor.worldSwitches,
    stopMethod: r.stopMethod ?? null,
    lateStops: r.lateStops ?? null,
    secureSlices: { count: r.monitor.secureSlices, byCause: r.monitor.byCause, maxUs: Math.round(r.monitor.maxSliceUs) },
    timePerWorldMs: { secure: r1(r.monitor.timeUs.secure / 1000), nonsecure: r1(r.monitor.timeUs.nonsecure / 1000) },
    securityFaults: {
      attempted: 0,
      blocked: 0,
      records: [],
      byConstruction:
        "Linux cannot address the secure window: the secure RAM is memory of the secure process that no fd, file or message hands to Linux; Linux shares only its own RAM (vhost-user SET_MEM_TABLE), which the secure side maps. So there is no access to fault on; keyLeaked checks the consequence by searching Linux's RAM for the key's seed.",
    },
    keyLeaked: r.keyLeaked ?? null,
    guestCounter: r.guestCounter,
    signer: r.signer,
    console: r.console,
    vsock: r.vsock ?? null,
    vhostUser: r.vhostUser,
    linuxExit: r.linuxExit ?? null,
    timedOut: r.timedOut,
    durationMs: r.durationMs,
    consoleTail: r.consoleTail,
  };
}

export function formatLinuxReport(r: LinuxRunResult): string {
  const j = linuxReportJson(r);
  const rtt = j['rttUs'] as { p50: number; p99: number };
  const m = j['messages'] as { sent: number; received: number; lost: number; corrupted: number };
  const t = j['timePerWorldMs'] as { secure: number; nonsecure: number };
  const lines = [
    ...(j['story'] as string[]),
    '',
    `result              ${r.ok ? 'OK' : `FAILED: ${r.problems.join('; ')}`}`,
    `non-secure OS       Linux (${r.frontend === 'qemu' ? `QEMU, ${r.kernel}` : r.kernel}), ${r.cores} core${r.cores === 1 ? '' : 's'}, ${r.ring} rings`,
    `channel             ${r.channel === 'vsock' ? `AF_VSOCK (CID 2, port ${r.vsock?.port ?? 0}; guest CID ${r.vsock?.guestCid ?? 0}); log on ${r.frontend === 'qemu' ? 'the serial console' : `/dev/hvc0 (${r.console.linesIn} lines)`}` : '/dev/hvc0 (virtio-console lines)'}`,
    `messages            ${m.sent} sent, ${m.received} answered, ${m.lost} lost, ${m.corrupted} bad signatures`,
    `round trip          p50 ${rtt.p50} µs, p99 ${rtt.p99} µs (measured in Linux user space)`,
    `throughput          ${String(j['throughputMBps'])} MB/s`,
    `world switches      ${r.monitor.worldSwitches} (${r.monitor.secureSlices} secure slices; longest ${Math.round(r.monitor.maxSliceUs)} µs; ${r.cores === 1 ? `Linux stopped by ${r.stopMethod ?? 'n/a'}` : 'two cores: Linux never stopped'})`,
    `time per world      secure ${t.secure} ms, non-secure ${t.nonsecure} ms`,
    `Linux counter       ${r.guestCounter.whileSecureHeldCore} while the secure world held the core, ${r.guestCounter.whileLinuxRan} while Linux ran (${r.guestCounter.probes} probes)`,
    `security faults     0: by construction (Linux holds no mapping of secure memory); key seed in Linux's RAM: ${r.keyLeaked === undefined ? 'not checked' : r.keyLeaked ? 'FOUND' : 'no'}`,
    `vhost-user          ${Object.keys(r.vhostUser.byDevice).join(' + ')} (${r.inband ? 'in-band notifications' : 'eventfd notifications'}): ${r.vhostUser.messages} messages, ${r.vhostUser.kicks} kicks, ${r.vhostUser.calls} calls, ${r.vhostUser.errors} errors`,
    `duration            ${r.durationMs} ms`,
  ];
  return lines.join('\n');
}
