/**
 * The vhost-user back-end against a hostile front-end, seeded and short: no crash, every refusal a typed error with a
 * stable code, the connection closed after errors that cannot be survived, no descriptor leaked, and the next
 * well-behaved front-end served to an active device. Planted faults show the oracles bite.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { vhostNativeAvailable } from '../../src/host/native-vhost.js';
import { runFuzz } from '../../src/fuzz/run.js';
import { VHOST_USER_MUTATIONS } from '../../src/fuzz/vhost-user-target.js';
import { VhostUserBackend, VhostUserErrorCode } from '../../src/vhost-user/index.js';
import { VsockDevice } from '../../src/vsock/device.js';

const skip = vhostNativeAvailable() ? undefined : 'the native addon (ABI 3) is not built';
if (skip !== undefined) console.log(`skipping vhost-user fuzz tests: ${skip}`);

const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

describe.skipIf(skip !== undefined)('vhost-user back-end fuzzing (seeded, short)', () => {
  it('no crash, hang or leak; each rule broken is refused by its code; the next front-end is served', () => {
    const r = runFuzz({ seed: 0xb0b, iterations: 300, targets: ['vhost-user'] });
    expect(r.findings).toEqual([]);
    for (const m of VHOST_USER_MUTATIONS) expect(r.mutations[m] ?? 0, m).toBeGreaterThan(0);
    for (const code of [
      VhostUserErrorCode.BAD_HEADER,
      VhostUserErrorCode.PAYLOAD_TOO_LARGE,
      VhostUserErrorCode.BAD_PAYLOAD_SIZE,
      VhostUserErrorCode.UNSUPPORTED_REQUEST,
      VhostUserErrorCode.MISSING_FD,
      VhostUserErrorCode.UNEXPECTED_FD,
      VhostUserErrorCode.BAD_MEM_TABLE,
      VhostUserErrorCode.REGION_MAP_FAILED,
      VhostUserErrorCode.BAD_QUEUE_SIZE,
      VhostUserErrorCode.BAD_QUEUE_INDEX,
      VhostUserErrorCode.BAD_CONFIG_ACCESS,
    ]) {
      expect(r.errorsByCode[code] ?? 0, code).toBeGreaterThan(0);
    }
    expect(r.states).toBeGreaterThan(3000);
  });

  it('a back-end that keeps the connection after a framing error is caught', () => {
    const orig = VhostUserBackend.prototype.detach;
    VhostUserBackend.prototype.detach = function (this: VhostUserBackend, reason?: string) {
      if (reason?.startsWith('protocol error') === true) return; // planted: ignores the rule
      orig.call(this, reason);
    };
    restore.push(() => {
      VhostUserBackend.prototype.detach = orig;
    });
    const r = runFuzz({ seed: 3, iterations: 40, targets: ['vhost-user'] });
    expect(r.violations).toBeGreaterThan(0);
    expect(r.findings.some((f) => f.message.includes('left the connection open'))).toBe(true);
  });

  it('a device whose reset throws is reported, not hidden', () => {
    const orig = VsockDevice.prototype.reset;
    VsockDevice.prototype.reset = function (this: VsockDevice) {
      orig.call(this);
      throw new TypeError('planted');
    };
    restore.push(() => {
      VsockDevice.prototype.reset = orig;
    });
    const r = runFuzz({ seed: 4, iterations: 10, targets: ['vhost-user'] });
    expect(r.crashes + r.violations).toBeGreaterThan(0);
  });
});
