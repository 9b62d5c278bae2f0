/**
 * Feature bits (VIRTIO 1.2 §6 "Reserved Feature Bits") and negotiation.
 *
 * Feature sets are bigint bitmaps (64 bits are used on the wire; the virtio-mmio register file exposes them in 32-bit
 * windows). Negotiation is off the hot path, so bigint's cost does not matter here.
 */
import { VirtioError, VirtioErrorCode } from './errors.js';

export const VirtioFeature = {
  /** §2.7.5 / §2.8.x: descriptors may point to indirect tables. */
  INDIRECT_DESC: 28,
  /** §2.7.10: used_event / avail_event fields (notification suppression by index). */
  EVENT_IDX: 29,
  /** Compliant with VIRTIO 1.x (not legacy). */
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  /** §2.8: packed virtqueue layout. */
  RING_PACKED: 34,
  /** §2.7.9 / §2.8.x: buffers are used in the order they were made available. */
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  /** §2.9 (4.2.3.3 for mmio): the driver passes extra data in notifications. */
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
} as const;
export type VirtioFeature = (typeof VirtioFeature)[keyof typeof VirtioFeature];

/** Bit mask of one feature. */
export function bit(feature: number): bigint {
  return 1n << BigInt(feature);
}

/** Mask of several features. */
export function features(...bits: number[]): bigint {
  let m = 0n;
  for (const b of bits) m |= bit(b);
  return m;
}

export function hasFeature(set: bigint, feature: number): boolean {
  return (set & bit(feature)) !== 0n;
}

/** Names of the transport feature bits set in `set` (device-specific bits appear as "bitN"). */
export function featureNames(set: bigint, deviceNames: Readonly<Record<number, string>> = {}): string[] {
  const byBit = new Map<number, string>(Object.entries(VirtioFeature).map(([k, v]) => [v, k]));
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (hasFeature(set, b)) out.push(deviceNames[b] ?? byBit.get(b) ?? `bit${b}`);
  }
  return out;
}

/** Transport features this implementation understands (device-specific bits 0..23 are the device's business). */
export const TRANSPORT_FEATURES_SUPPORTED = features(
  VirtioFeature.INDIRECT_DESC,
  VirtioFeature.EVENT_IDX,
  VirtioFeature.VERSION_1,
  VirtioFeature.RING_PACKED,
  VirtioFeature.IN_ORDER,
  VirtioFeature.NOTIFICATION_DATA,
);

/**
 * Validates a driver's feature selection against what the device offered (§2.2 / §3.1.1: the driver must not
 * accept a feature the device did not offer) and returns it unchanged.
 */
export function checkAccepted(offered: bigint, accepted: bigint): bigint {
  const extra = accepted & ~offered;
  if (extra !== 0n) {
    throw new VirtioError(VirtioErrorCode.FEATURE_NOT_OFFERED, `driver accepted features the device did not offer: ${featureNames(extra).join(', ')}`, {
      extra: '0x' + extra.toString(16),
    });
  }
  return accepted;
}

/**
 * The features a driver that wants `wanted` ends up with: the intersection, validated. VERSION_1 is always accepted
 * when offered (§6.1: a driver MUST accept VIRTIO_F_VERSION_1 if it is offered).
 */
export function negotiate(offered: bigint, wanted: bigint): bigint {
  return checkAccepted(offered, offered & (wanted | bit(VirtioFeature.VERSION_1)));
}

/** Feature bits a transport does not support (§6: SR_IOV is PCI-only; a driver must neither offer nor accept it elsewhere). */
export const MMIO_UNSUPPORTED_FEATURES = features(VirtioFeature.SR_IOV);

export interface FeatureRules {
  /** bit -> bits it requires (device-type rules, e.g. virtio-net's CTRL_RX requires CTRL_VQ). Default: none. */
  readonly requires?: Readonly<Record<number, readonly number[]>>;
  /** Bits the transport does not support (must not be accepted). Default: none. */
  readonly unsupported?: bigint;
  /**
   * The device is non-transitional (modern only): it refuses a driver that does not accept VERSION_1 when offered
   * (§6.2: a device MAY fail to operate further if VERSION_1 is not accepted). Default true.
   */
  readonly modernOnly?: boolean;
}

/**
 * The device-side check behind FEATURES_OK (§2.2.2: the device SHOULD accept any valid subset, otherwise it MUST fail
 * to set FEATURES_OK): every accepted bit was offered, no accepted bit lacks one it requires (§2.2.1), no transport-
 * unsupported bit, and VERSION_1 accepted when offered by a modern-only device. Throws the first broken rule.
 */
export function checkFeatureSet(offered: bigint, accepted: bigint, rules: FeatureRules = {}): bigint {
  checkAccepted(offered, accepted);
  const unsupported = accepted & (rules.unsupported ?? 0n);
  if (unsupported !== 0n) {
    throw new VirtioError(VirtioErrorCode.FEATURE_NOT_OFFERED, `features not supported by this transport: ${featureNames(unsupported).join(', ')}`, {
      extra: '0x' + unsupported.toString(16),
    });
  }
  if ((rules.modernOnly ?? true) && hasFeature(offered, VirtioFeature.VERSION_1) && !hasFeature(accepted, VirtioFeature.VERSION_1)) {
    throw new VirtioError(VirtioErrorCode.FEATURE_DEPENDENCY, 'the driver did not accept VERSION_1 (a modern-only device refuses legacy drivers)', {
      missing: VirtioFeature.VERSION_1,
    });
  }
  for (const [k, needs] of Object.entries(rules.requires ?? {})) {
    const b = Number(k);
    if (!hasFeature(accepted, b)) continue;
    for (const n of needs) {
      if (!hasFeature(accepted, n)) {
        throw new VirtioError(VirtioErrorCode.FEATURE_DEPENDENCY, `feature ${featureNames(bit(b))[0]} requires ${featureNames(bit(n))[0]}, which was not accepted`, {
          feature: b,
          missing: n,
        });
      }
    }
  }
  return accepted;
}
