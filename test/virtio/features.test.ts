import { describe, expect, it } from 'vitest';
import {
  VirtioError,
  VirtioErrorCode,
  VirtioFeature as F,
  bit,
  checkAccepted,
  checkFeatureSet,
  featureNames,
  features,
  hasFeature,
  negotiate,
  MMIO_UNSUPPORTED_FEATURES,
} from '../../src/virtio/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirtioError) return e.code;
    throw e;
  }
  return undefined;
}

describe('feature bits', () => {
  it('use the bit numbers of VIRTIO 1.2 §6', () => {
    expect(bit(F.INDIRECT_DESC)).toBe(0x1000_0000n);
    expect(bit(F.EVENT_IDX)).toBe(0x2000_0000n);
    expect(bit(F.VERSION_1)).toBe(0x1_0000_0000n);
    expect(bit(F.RING_PACKED)).toBe(0x4_0000_0000n);
    expect(bit(F.RING_RESET)).toBe(0x100_0000_0000n);
    expect(features(F.INDIRECT_DESC, F.VERSION_1)).toBe(0x1_1000_0000n);
    expect(hasFeature(0x1_0000_0000n, F.VERSION_1)).toBe(true);
    expect(hasFeature(0x1_0000_0000n, F.EVENT_IDX)).toBe(false);
  });

  it('names transport bits and device-specific bits', () => {
    expect(featureNames(features(0, F.EVENT_IDX, F.VERSION_1), { 0: 'RPMSG_F_NS' })).toEqual(['RPMSG_F_NS', 'EVENT_IDX', 'VERSION_1']);
    expect(featureNames(bit(5))).toEqual(['bit5']);
  });
});

describe('negotiate / checkAccepted', () => {
  const offered = features(0, F.INDIRECT_DESC, F.EVENT_IDX, F.VERSION_1);

  it('keeps the intersection of offered and wanted', () => {
    expect(negotiate(offered, features(F.EVENT_IDX, F.RING_PACKED, F.VERSION_1))).toBe(features(F.EVENT_IDX, F.VERSION_1));
  });

  it('always accepts VERSION_1 when it is offered (§6.1)', () => {
    expect(negotiate(offered, features(F.EVENT_IDX))).toBe(features(F.EVENT_IDX, F.VERSION_1));
    expect(negotiate(features(F.EVENT_IDX), features(F.EVENT_IDX, F.VERSION_1))).toBe(features(F.EVENT_IDX));
  });

  it('refuses accepted bits that were not offered, naming them', () => {
    let err: unknown;
    try {
      checkAccepted(offered, features(F.VERSION_1, F.RING_PACKED));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VirtioError);
    expect((err as VirtioError).code).toBe(VirtioErrorCode.FEATURE_NOT_OFFERED);
    expect((err as VirtioError).message).toContain('RING_PACKED');
    expect((err as VirtioError).details['extra']).toBe('0x400000000');
    expect(checkAccepted(offered, features(F.VERSION_1))).toBe(features(F.VERSION_1));
    expect(checkAccepted(offered, 0n)).toBe(0n);
  });
});

describe('checkFeatureSet (device side of FEATURES_OK)', () => {
  const offered = features(0, 1, F.EVENT_IDX, F.VERSION_1);

  it('accepts a valid subset', () => {
    expect(checkFeatureSet(offered, features(1, F.VERSION_1))).toBe(features(1, F.VERSION_1));
  });

  it('refuses a driver without VERSION_1 on a modern-only device', () => {
    expect(codeOf(() => checkFeatureSet(offered, features(F.EVENT_IDX)))).toBe(VirtioErrorCode.FEATURE_DEPENDENCY);
    // a transitional device may accept it
    expect(checkFeatureSet(offered, features(F.EVENT_IDX), { modernOnly: false })).toBe(features(F.EVENT_IDX));
    // nothing to require when the device did not offer it
    expect(checkFeatureSet(features(1), features(1))).toBe(features(1));
  });

  it('refuses an accepted bit whose required bit was not accepted (§2.2.1)', () => {
    const rules = { requires: { 1: [0] } };
    expect(codeOf(() => checkFeatureSet(offered, features(1, F.VERSION_1), rules))).toBe(VirtioErrorCode.FEATURE_DEPENDENCY);
    expect(checkFeatureSet(offered, features(0, 1, F.VERSION_1), rules)).toBe(features(0, 1, F.VERSION_1));
  });

  it('refuses unoffered bits and transport-unsupported bits', () => {
    expect(codeOf(() => checkFeatureSet(offered, features(2, F.VERSION_1)))).toBe(VirtioErrorCode.FEATURE_NOT_OFFERED);
    const withSriov = offered | bit(F.SR_IOV);
    expect(codeOf(() => checkFeatureSet(withSriov, features(F.SR_IOV, F.VERSION_1), { unsupported: MMIO_UNSUPPORTED_FEATURES }))).toBe(
      VirtioErrorCode.FEATURE_NOT_OFFERED,
    );
  });
});
