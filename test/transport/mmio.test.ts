import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { VirtioFeature, bit } from '../../src/virtio/features.js';
import { MmioReg } from '../../src/virtio/mmio/registers.js';
import { MmioDeviceTransport, MmioDriverTransport, MmioOp, MmioWin, TransportErrorCode, type MmioPlacement } from '../../src/transport/index.js';
import { EchoDevice, EchoDriver, ECHO_ID } from './echo-device.js';

const BASE = 0x1000_0000;
const placement: MmioPlacement = {
  index: 0,
  deviceType: ECHO_ID,
  base: BASE,
  notifyIds: [4, 5],
  configSize: 8,
  rings: { base: BASE + 0x1000, size: 0x4000 },
  pool: { base: BASE + 0x5000, size: 0x1000 },
};

function rig() {
  const memory = new PhysicalMemory([{ name: 'ipc', base: BASE, size: 0x8000 }]);
  const dev = new EchoDevice();
  const drv = new EchoDriver();
  const kicks: number[] = [];
  const calls: number[] = [];
  const dt = new MmioDeviceTransport({ memory, placement, device: dev, notify: (id) => calls.push(id) });
  const rt = new MmioDriverTransport({ memory, placement, driver: drv, kick: (id) => kicks.push(id) });
  /** Alternates both sides, letting the driver's async bring-up run between rounds. */
  const pump = async (rounds = 400) => {
    for (let i = 0; i < rounds; i++) {
      dt.poll();
      rt.poll();
      await Promise.resolve();
      await Promise.resolve();
    }
  };
  return { memory, dev, drv, dt, rt, kicks, calls, pump };
}

describe('virtio-mmio window transport', () => {
  it('initialises in §4.2.3.1 order over the register mailbox and carries messages', async () => {
    const r = rig();
    r.rt.start();
    await r.pump();
    expect(r.rt.state).toBe('live');
    expect(r.dt.state).toBe('live');
    expect(r.rt.negotiatedFeatures & bit(VirtioFeature.VERSION_1)).toBe(bit(VirtioFeature.VERSION_1));
    expect(r.dev.a!.features).toBe(r.rt.negotiatedFeatures);
    for (let i = 0; i < 30; i++) {
      r.drv.send(Uint8Array.of(i, i + 1));
      await r.pump(4);
    }
    expect(r.drv.received.map((b) => b[0])).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // used-buffer notifications carry this device's notify ids
    expect(new Set(r.calls)).toEqual(new Set([4, 5]));
    expect(r.dt.stats.refused).toBe(0);
  });

  it('reads the config space as a generation-consistent snapshot and sends driver writes through the register file', async () => {
    const r = rig();
    r.rt.start();
    await r.pump();
    const b = new Uint8Array(4);
    r.drv.a!.readConfig(0, b);
    expect(new DataView(b.buffer).getUint32(0, true)).toBe(0xec40);
    r.drv.a!.writeConfig(4, Uint8Array.of(7, 8));
    await r.pump(200);
    expect(Array.from(r.dev.config.subarray(4, 6))).toEqual([7, 8]);
    expect(() => r.drv.a!.readConfig(6, new Uint8Array(4))).toThrow(TransportErrorCode.BAD_ARGUMENT);
  });

  it('fails with FEATURES_REFUSED when the device clears FEATURES_OK', async () => {
    const r = rig();
    r.dev.refuse = true;
    r.rt.start();
    await r.pump();
    expect(r.rt.state).toBe('failed');
    expect(r.rt.lastError?.code).toBe(TransportErrorCode.FEATURES_REFUSED);
    expect(r.dev.a).toBeUndefined();
  });

  it('refuses hostile mailbox requests and rings outside its memory without crashing', async () => {
    const r = rig();
    const w = new Int32Array(r.memory.regions[0]!.buffer);
    let seq = 0;
    const req = (op: number, offset: number, value = 0, size = 4) => {
      Atomics.store(w, MmioWin.OP / 4, op);
      Atomics.store(w, MmioWin.OFFSET / 4, offset);
      Atomics.store(w, MmioWin.SIZE / 4, size);
      Atomics.store(w, MmioWin.VALUE / 4, value);
      Atomics.store(w, MmioWin.REQ_SEQ / 4, ++seq);
      r.dt.poll();
      expect(Atomics.load(w, MmioWin.RESP_SEQ / 4)).toBe(seq);
      return Atomics.load(w, MmioWin.RESULT / 4) >>> 0;
    };
    req(9, 0);
    expect(r.dt.lastError?.code).toBe(TransportErrorCode.MMIO_BAD_REQUEST);
    req(MmioOp.READ, 0, 0, 3);
    req(MmioOp.READ, 0x10000);
    expect(r.dt.stats.refused).toBe(3);
    // a well-formed bring-up up to a queue whose descriptor table points outside the device's memory
    for (const s of [0, 1, 3]) req(MmioOp.WRITE, MmioReg.STATUS, s);
    req(MmioOp.WRITE, MmioReg.DRIVER_FEATURES_SEL, 1);
    req(MmioOp.WRITE, MmioReg.DRIVER_FEATURES, 1);
    req(MmioOp.WRITE, MmioReg.STATUS, 11);
    expect(req(MmioOp.READ, MmioReg.STATUS) & 8).toBe(8);
    req(MmioOp.WRITE, MmioReg.QUEUE_SEL, 0);
    req(MmioOp.WRITE, MmioReg.QUEUE_NUM, 16);
    req(MmioOp.WRITE, MmioReg.QUEUE_DESC_LOW, 0x3c00_0000);
    req(MmioOp.WRITE, MmioReg.QUEUE_READY, 1);
    expect(req(MmioOp.READ, MmioReg.QUEUE_READY)).toBe(0);
    expect(r.dev.a).toBeUndefined();
  });

  it('resets the device when the peer goes away, and a new bring-up works', async () => {
    const r = rig();
    r.rt.start();
    await r.pump();
    const before = r.dev.resets;
    r.dt.peerReset();
    expect(r.dev.resets).toBe(before + 1);
    expect(r.dt.state).toBe('reset');
    const rt2 = new MmioDriverTransport({ memory: r.memory, placement, driver: new EchoDriver(), kick: () => undefined });
    rt2.start();
    for (let i = 0; i < 400; i++) {
      r.dt.poll();
      rt2.poll();
      await Promise.resolve();
      await Promise.resolve();
    }
    expect(rt2.state).toBe('live');
  });

  it('a live driver that sees DEVICE_NEEDS_RESET resets its driver and waits in needs-reset until started again', async () => {
    const r = rig();
    r.rt.start();
    await r.pump();
    expect(r.rt.state).toBe('live');
    r.dev.a!.needsReset('device gave up');
    await r.pump(4);
    expect(r.rt.state).toBe('needs-reset');
    expect(r.rt.live).toBe(false);
    expect(r.rt.lastError?.code).toBe(TransportErrorCode.NEEDS_RESET);
    expect(r.drv.resets).toBe(1);
    r.rt.start();
    await r.pump();
    expect(r.rt.state).toBe('live');
    // a (re)start resets the driver before the new handshake, from needs-reset too
    expect(r.drv.resets).toBe(2);
  });

  it('refuses a driver of another device type (BAD_ARGUMENT naming both types)', () => {
    const memory = new PhysicalMemory([{ name: 'ipc', base: BASE, size: 0x8000 }]);
    const drv = new EchoDriver();
    expect(() => new MmioDriverTransport({ memory, placement: { ...placement, deviceType: ECHO_ID + 1 }, driver: drv, kick: () => {} })).toThrow(
      expect.objectContaining({ code: TransportErrorCode.BAD_ARGUMENT, message: expect.stringContaining(`driver for type ${ECHO_ID} given a window of type ${ECHO_ID + 1}`) }),
    );
  });
});
