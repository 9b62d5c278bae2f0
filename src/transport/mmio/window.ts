/**
 * A virtio-mmio window between partitions. On a board the register file is a device-tree node whose loads and stores
 * trap into the device; between two partitions of this model nothing traps, so each device gets one 4 KiB page of
 * the IPC window ("virtio,mmio" at `base`, one per device as on a board's device tree) holding a one-slot register
 * mailbox: the driver writes an access, the device performs it on its register file (src/virtio/mmio/device.ts, with
 * every rule of §4.2.2 checked there) and answers.
 *
 *   +0x00 req_seq   u32  driver: +1 after writing op/offset/size/value (Atomics.store, the publish)
 *   +0x04 op        u32  1 = read, 2 = write
 *   +0x08 offset    u32  register offset (control registers < 0x100, config space from 0x100)
 *   +0x0c size      u32  1, 2 or 4
 *   +0x10 value     u32  the value written
 *   +0x14 resp_seq  u32  device: = req_seq once done (Atomics.store, after `result`)
 *   +0x18 result    u32  the value read
 *   +0x1c status    u32  device: a shadow of the Status register (DEVICE_NEEDS_RESET seen without a round trip)
 *   +0x20 irq       u32  device: InterruptStatus bits raised since the driver last looked (Atomics.or / exchange)
 *
 * Available-buffer notifications (a store to QueueNotify on a board) take the machine's notification path directly,
 * with the queue's notify id; the device treats one as the QueueNotify write it stands for.
 * The device trusts nothing here: an unknown op, an odd size or a request while one is in flight is refused.
 */
export const MMIO_WINDOW_SIZE = 4096;
export const MmioWin = {
  REQ_SEQ: 0x00,
  OP: 0x04,
  OFFSET: 0x08,
  SIZE: 0x0c,
  VALUE: 0x10,
  RESP_SEQ: 0x14,
  RESULT: 0x18,
  STATUS: 0x1c,
  IRQ: 0x20,
} as const;
export const MmioOp = { READ: 1, WRITE: 2 } as const;
