/**
 * virtio-mmio version 2 register layout (VIRTIO 1.2 §4.2.2, Linux include/uapi/linux/virtio_mmio.h).
 *
 *   0x000 MagicValue "virt"      R    0x030 QueueSel           W    0x080/0x084 QueueDescLow/High    W
 *   0x004 Version (2)            R    0x034 QueueNumMax        R    0x090/0x094 QueueDriverLow/High  W
 *   0x008 DeviceID               R    0x038 QueueNum           W    0x0a0/0x0a4 QueueDeviceLow/High  W
 *   0x00c VendorID               R    0x044 QueueReady         RW   0x0ac SHMSel                     W
 *   0x010 DeviceFeatures         R    0x050 QueueNotify        W    0x0b0/0x0b4 SHMLenLow/High       R
 *   0x014 DeviceFeaturesSel      W    0x060 InterruptStatus    R    0x0b8/0x0bc SHMBaseLow/High      R
 *   0x020 DriverFeatures         W    0x064 InterruptACK       W    0x0c0 QueueReset                 RW
 *   0x024 DriverFeaturesSel      W    0x070 Status             RW   0x0fc ConfigGeneration           R
 *                                                                   0x100+ device configuration      RW
 *
 * Every control register is 32 bits wide, little-endian, accessed with aligned 32-bit reads and writes only. The
 * legacy (version 1) registers GuestPageSize 0x028, QueueAlign 0x03c and QueuePFN 0x040 do not exist in version 2.
 */
export const MmioReg = {
  MAGIC_VALUE: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  SHM_SEL: 0x0ac,
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  QUEUE_RESET: 0x0c0,
  CONFIG_GENERATION: 0x0fc,
  /** First byte of the device-specific configuration space. */
  CONFIG: 0x100,
} as const;
export type MmioReg = (typeof MmioReg)[keyof typeof MmioReg];

/** Registers of the legacy (version 1) interface that version 2 dropped; kept only to name them in reports. */
export const MmioLegacyReg = {
  GUEST_PAGE_SIZE: 0x028,
  QUEUE_ALIGN: 0x03c,
  QUEUE_PFN: 0x040,
} as const;

/** "virt" read as a little-endian u32. */
export const MMIO_MAGIC = 0x74726976;
/** The only version this transport speaks; legacy devices report 1. */
export const MMIO_VERSION = 2;
export const MMIO_LEGACY_VERSION = 1;

/** InterruptStatus / InterruptACK bits. */
export const MmioInterrupt = {
  /** A used buffer was returned on at least one active queue. */
  VRING: 1,
  /** The device configuration (or DEVICE_NEEDS_RESET) changed. */
  CONFIG: 2,
} as const;
/** Bits of InterruptStatus that mean something; the rest are reserved (zero). */
export const MMIO_INTERRUPT_MASK = MmioInterrupt.VRING | MmioInterrupt.CONFIG;

export type MmioDirection = 'R' | 'W' | 'RW';

/** Direction of each control register (§4.2.2 table): R = the driver must not write it, W = must not read it. */
export const MMIO_REGISTER_DIRECTION: ReadonlyMap<number, MmioDirection> = new Map<number, MmioDirection>([
  [MmioReg.MAGIC_VALUE, 'R'],
  [MmioReg.VERSION, 'R'],
  [MmioReg.DEVICE_ID, 'R'],
  [MmioReg.VENDOR_ID, 'R'],
  [MmioReg.DEVICE_FEATURES, 'R'],
  [MmioReg.DEVICE_FEATURES_SEL, 'W'],
  [MmioReg.DRIVER_FEATURES, 'W'],
  [MmioReg.DRIVER_FEATURES_SEL, 'W'],
  [MmioReg.QUEUE_SEL, 'W'],
  [MmioReg.QUEUE_NUM_MAX, 'R'],
  [MmioReg.QUEUE_NUM, 'W'],
  [MmioReg.QUEUE_READY, 'RW'],
  [MmioReg.QUEUE_NOTIFY, 'W'],
  [MmioReg.INTERRUPT_STATUS, 'R'],
  [MmioReg.INTERRUPT_ACK, 'W'],
  [MmioReg.STATUS, 'RW'],
  [MmioReg.QUEUE_DESC_LOW, 'W'],
  [MmioReg.QUEUE_DESC_HIGH, 'W'],
  [MmioReg.QUEUE_DRIVER_LOW, 'W'],
  [MmioReg.QUEUE_DRIVER_HIGH, 'W'],
  [MmioReg.QUEUE_DEVICE_LOW, 'W'],
  [MmioReg.QUEUE_DEVICE_HIGH, 'W'],
  [MmioReg.SHM_SEL, 'W'],
  [MmioReg.SHM_LEN_LOW, 'R'],
  [MmioReg.SHM_LEN_HIGH, 'R'],
  [MmioReg.SHM_BASE_LOW, 'R'],
  [MmioReg.SHM_BASE_HIGH, 'R'],
  [MmioReg.QUEUE_RESET, 'RW'],
  [MmioReg.CONFIG_GENERATION, 'R'],
]);

const NAMES = new Map<number, string>([...Object.entries(MmioReg), ...Object.entries(MmioLegacyReg)].map(([k, v]) => [v, k]));

/** Name of a register offset for messages ("QUEUE_NUM", "CONFIG+0x4", "0x1c"). */
export function mmioRegisterName(offset: number): string {
  if (offset >= MmioReg.CONFIG) return `CONFIG+0x${(offset - MmioReg.CONFIG).toString(16)}`;
  return NAMES.get(offset) ?? `0x${offset.toString(16)}`;
}

/**
 * The value a driver writes to QueueNotify (§4.2.3.3). Without VIRTIO_F_NOTIFICATION_DATA: the queue index. With it:
 * vq_index in bits 0..15, next_off in bits 16..30, next_wrap in bit 31 (split: next_off/next_wrap are the low 15 bits
 * and bit 15 of the free-running avail index; packed: the ring offset and wrap counter of the next descriptor).
 */
export function mmioNotifyValue(index: number, next?: { readonly off: number; readonly wrap: number }): number {
  if (next === undefined) return index & 0xffff;
  return ((index & 0xffff) | ((next.off & 0x7fff) << 16) | ((next.wrap & 1) << 31)) >>> 0;
}

/** Decodes a NOTIFICATION_DATA value into its fields. */
export function decodeMmioNotify(value: number): { index: number; off: number; wrap: number } {
  return { index: value & 0xffff, off: (value >>> 16) & 0x7fff, wrap: value >>> 31 };
}
