import { describe, expect, it } from 'vitest';
import { DeviceStatus as S, StatusRegister, VirtioError, VirtioErrorCode, checkStatusWrite, statusNames } from '../../src/virtio/index.js';

const A = S.ACKNOWLEDGE;
const D = S.DRIVER;
const FO = S.FEATURES_OK;
const OK = S.DRIVER_OK;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirtioError) return e.code;
    throw e;
  }
  return undefined;
}

describe('status bits', () => {
  it('have the values of VIRTIO 1.2 §2.1', () => {
    expect([S.ACKNOWLEDGE, S.DRIVER, S.DRIVER_OK, S.FEATURES_OK, S.DEVICE_NEEDS_RESET, S.FAILED]).toEqual([1, 2, 4, 8, 64, 128]);
    expect(statusNames(0)).toEqual(['RESET']);
    expect(statusNames(A | D | FO)).toEqual(['ACKNOWLEDGE', 'DRIVER', 'FEATURES_OK']);
  });
});

describe('checkStatusWrite: the §3.1.1 sequence', () => {
  it('accepts each step in order, one at a time', () => {
    let s = 0;
    for (const next of [A, A | D, A | D | FO, A | D | FO | OK]) {
      s = checkStatusWrite(s, next);
      expect(s).toBe(next);
    }
  });

  it('accepts several steps in one write when they stay in order', () => {
    expect(checkStatusWrite(0, A | D)).toBe(A | D);
    expect(checkStatusWrite(A | D, A | D | FO | OK)).toBe(A | D | FO | OK);
  });

  it('accepts rewriting the same value', () => {
    expect(checkStatusWrite(A | D, A | D)).toBe(A | D);
  });

  const skips: [number, number][] = [
    [0, D], // DRIVER before ACKNOWLEDGE
    [0, FO],
    [0, OK],
    [A, A | FO], // FEATURES_OK before DRIVER
    [A, A | OK],
    [A | D, A | D | OK], // DRIVER_OK before FEATURES_OK
    [0, A | FO],
  ];
  it.each(skips)('refuses skipping a step: 0x%s -> 0x%s', (cur, next) => {
    expect(codeOf(() => checkStatusWrite(cur, next))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
  });

  const clears: [number, number][] = [
    [A | D, A],
    [A | D, D],
    [A | D | FO, A | D],
    [A | D | FO | OK, A | D | FO],
    [A | S.FAILED, A],
  ];
  it.each(clears)('refuses clearing a bit without a reset: 0x%s -> 0x%s', (cur, next) => {
    expect(codeOf(() => checkStatusWrite(cur, next))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
  });

  it('resets from any state with 0', () => {
    for (const cur of [0, A, A | D, A | D | FO, A | D | FO | OK, A | S.FAILED, A | D | FO | OK | S.DEVICE_NEEDS_RESET]) {
      expect(checkStatusWrite(cur, 0)).toBe(0);
    }
  });

  it('accepts FAILED on top of any state, then nothing but a reset may continue', () => {
    for (const cur of [0, A, A | D, A | D | FO, A | D | FO | OK]) {
      expect(checkStatusWrite(cur, cur | S.FAILED)).toBe(cur | S.FAILED);
    }
    expect(codeOf(() => checkStatusWrite(A | S.FAILED, A | D | S.FAILED))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
    expect(codeOf(() => checkStatusWrite(A | D | S.FAILED, A | D | FO | OK | S.FAILED))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
    // FAILED and a new step in the same write: the step is refused
    expect(codeOf(() => checkStatusWrite(A, A | D | S.FAILED))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
  });

  it('refuses reserved bits (4, 5 and anything above 8 bits)', () => {
    expect(codeOf(() => checkStatusWrite(0, 0x10))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
    expect(codeOf(() => checkStatusWrite(A, A | 0x20))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
    expect(codeOf(() => checkStatusWrite(A, A | 0x100))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
  });

  it('refuses a driver setting DEVICE_NEEDS_RESET', () => {
    expect(codeOf(() => checkStatusWrite(A, A | S.DEVICE_NEEDS_RESET))).toBe(VirtioErrorCode.BAD_STATUS_TRANSITION);
  });

  it('keeps DEVICE_NEEDS_RESET until a reset and refuses new steps meanwhile', () => {
    const cur = A | D | FO | OK | S.DEVICE_NEEDS_RESET;
    expect(checkStatusWrite(cur, A | D | FO | OK)).toBe(cur);
    expect(checkStatusWrite(cur, cur | S.FAILED)).toBe(cur | S.FAILED);
    expect(codeOf(() => checkStatusWrite(A | S.DEVICE_NEEDS_RESET, A | D))).toBe(VirtioErrorCode.DEVICE_NEEDS_RESET);
  });
});

describe('StatusRegister', () => {
  it('walks the sequence and reports resets', () => {
    const r = new StatusRegister();
    expect(r.write(A)).toBe(false);
    expect(r.write(A | D)).toBe(false);
    expect(r.write(A | D | FO)).toBe(false);
    expect(r.isLive()).toBe(false);
    expect(r.write(A | D | FO | OK)).toBe(false);
    expect(r.isLive()).toBe(true);
    expect(r.has(FO)).toBe(true);
    expect(r.write(0)).toBe(true);
    expect(r.get()).toBe(0);
  });

  it('keeps its value when a write is refused', () => {
    const r = new StatusRegister();
    r.write(A);
    expect(() => r.write(A | OK)).toThrowError(VirtioError);
    expect(r.get()).toBe(A);
  });

  it('lets the device refuse FEATURES_OK: the bit (and a DRIVER_OK written with it) does not stick', () => {
    const r = new StatusRegister();
    r.write(A | D);
    r.write(A | D | FO);
    r.refuseFeatures();
    expect(r.get()).toBe(A | D);
    r.write(A | D | FO | OK);
    r.refuseFeatures();
    expect(r.get()).toBe(A | D);
    // the driver gives up (§3.1.1) and must reset before trying again
    r.write(A | D | S.FAILED);
    expect(() => r.write(A | D | FO | S.FAILED)).toThrowError(VirtioError);
    expect(r.write(0)).toBe(true);
  });

  it('DEVICE_NEEDS_RESET takes a live device out of service until reset', () => {
    const r = new StatusRegister();
    r.write(A | D | FO | OK);
    r.needsReset();
    expect(r.isLive()).toBe(false);
    expect(r.get()).toBe(A | D | FO | OK | S.DEVICE_NEEDS_RESET);
    r.write(A | D | FO | OK);
    expect(r.has(S.DEVICE_NEEDS_RESET)).toBe(true);
    r.write(0);
    expect(r.get()).toBe(0);
    expect(r.write(A)).toBe(false);
  });

  it('a FAILED device is not live', () => {
    const r = new StatusRegister();
    r.write(A | D | FO | OK);
    r.write(A | D | FO | OK | S.FAILED);
    expect(r.isLive()).toBe(false);
  });
});
