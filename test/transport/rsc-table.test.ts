import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { DeviceStatus } from '../../src/virtio/status.js';
import { planRpmsgRegion, planResourceTable, encodeResourceTable as rpmsgEncode, decodeResourceTable as rpmsgDecode, RpmsgErrorCode } from '../../src/rpmsg/index.js';
import { decodeResourceTable, encodePlan, planRscTable, RscTableDeviceTransport, RscTableDriverTransport, TransportErrorCode, type RscTablePlan, type VdevSpec } from '../../src/transport/index.js';
import { EchoDevice, EchoDriver } from './echo-device.js';

const BASE = 0x1000_0000;

function specOf(dev: EchoDevice, drv: EchoDriver): VdevSpec {
  return { deviceType: dev.deviceType, features: dev.deviceFeatures, queueSizes: dev.queueMaxSizes, configSize: dev.configSize, poolBytes: drv.poolBytes };
}

interface Rig {
  memory: PhysicalMemory;
  plan: RscTablePlan;
  devs: EchoDevice[];
  drvs: EchoDriver[];
  dt: RscTableDeviceTransport[];
  rt: RscTableDriverTransport[];
  kicks: number[];
  calls: number[];
  pump(): number;
}

function rig(count = 2, awaitAck = true): Rig {
  const devs = Array.from({ length: count }, () => new EchoDevice());
  const drvs = Array.from({ length: count }, () => new EchoDriver());
  const specs = devs.map((d, i) => specOf(d, drvs[i]!));
  const plan = planRscTable(specs, { base: BASE });
  const memory = new PhysicalMemory([{ name: 'ipc', base: BASE, size: plan.size + 4096 }]);
  memory.write(plan.rscTable, encodePlan(plan, specs));
  const kicks: number[] = [];
  const calls: number[] = [];
  const dt = plan.vdevs.map((v, i) => new RscTableDeviceTransport({ memory, vdev: v, device: devs[i]!, notify: (id) => calls.push(id) }));
  const rt = plan.vdevs.map((v, i) => new RscTableDriverTransport({ memory, vdev: v, driver: drvs[i]!, kick: (id) => kicks.push(id), awaitAck }));
  const pump = () => {
    let total = 0;
    for (let round = 0; round < 1000; round++) {
      let n = 0;
      for (const t of rt) n += t.poll();
      for (const t of dt) n += t.poll();
      total += n;
      if (n === 0) return total;
    }
    throw new Error('did not settle');
  };
  return { memory, plan, devs, drvs, dt, rt, kicks, calls, pump };
}

describe('resource-table plan', () => {
  it('places one device exactly where the RPMsg region puts it (same addresses, same table bytes)', () => {
    const r = planRpmsgRegion({ base: BASE });
    const p = planRscTable([{ deviceType: 7, features: BigInt(r.features), queueSizes: [r.vring0.num, r.vring1.num], configSize: 0, poolBytes: r.buffers.size * r.buffers.count }], { base: BASE });
    const v = p.vdevs[0]!;
    expect(p.rscTableSize).toBe(r.rscTableSize);
    expect(v.entry).toBe(r.vdev);
    expect(v.statusAddr).toBe(r.statusAddr);
    expect(v.vrings.map((x) => [x.da, x.num, x.notifyid, x.bytes])).toEqual([r.vring0, r.vring1].map((x) => [x.da, x.num, x.notifyid, x.bytes]));
    expect(v.pool.base).toBe(r.buffers.base);
    expect(Buffer.from(encodePlan(p)).toString('hex')).toBe(Buffer.from(rpmsgEncode(planResourceTable(r))).toString('hex'));
  });

  it('gives every vdev its own entry, vrings, notify ids, config and pool, none overlapping', () => {
    const { plan, memory } = rig(3);
    const t = decodeResourceTable(memory.bytes(plan.rscTable, plan.rscTableSize).slice());
    expect(t.entries.map((e) => e.type)).toEqual(['vdev', 'carveout', 'vdev', 'carveout', 'vdev', 'carveout']);
    expect(t.entries.filter((e) => e.type === 'carveout').map((e) => (e as { name: string }).name)).toEqual(['vdev0buffer', 'vdev1buffer', 'vdev2buffer']);
    expect(plan.vdevs.flatMap((v) => v.vrings.map((r) => r.notifyid))).toEqual([0, 1, 2, 3, 4, 5]);
    const spans = plan.vdevs.flatMap((v) => [...v.vrings.map((r) => [r.da, r.bytes]), [v.pool.base, v.pool.size]]);
    spans.push([plan.rscTable, plan.rscTableSize]);
    for (let i = 0; i < spans.length; i++) for (let j = i + 1; j < spans.length; j++) {
      const [a, la] = spans[i]!;
      const [b, lb] = spans[j]!;
      expect(a! < b! + lb! && b! < a! + la!).toBe(false);
    }
    // the device's config space is in the table, at the place the plan says
    expect(memory.read32(plan.vdevs[1]!.configAddr)).toBe(0xec40);
  });

  it('refuses plans it cannot carry with BAD_LAYOUT', () => {
    const s: VdevSpec = { deviceType: 1, features: 0n, queueSizes: [256, 256], configSize: 0, poolBytes: 0 };
    expect(() => planRscTable([s], { base: BASE, size: 100 })).toThrow(TransportErrorCode.BAD_LAYOUT);
    expect(() => planRscTable([s], { base: 3 })).toThrow(TransportErrorCode.BAD_LAYOUT);
    expect(() => planRscTable(Array(16).fill(s), { base: BASE })).toThrow(TransportErrorCode.BAD_LAYOUT); // 32 vrings > 31 notify bits
    expect(() => planRscTable([], { base: BASE })).toThrow(TransportErrorCode.BAD_LAYOUT);
  });
});

describe('codec errors', () => {
  it('are TransportErrors in the transport and RpmsgErrors of the same rule through the RPMsg names', () => {
    expect(() => decodeResourceTable(new Uint8Array(8))).toThrow(TransportErrorCode.TRUNCATED);
    expect(() => rpmsgDecode(new Uint8Array(8))).toThrow(RpmsgErrorCode.TRUNCATED);
  });
});

describe('resource-table transport handshake', () => {
  it('brings several devices up in §3.1.1 order and carries messages on each', () => {
    const r = rig(2);
    r.rt.forEach((t) => t.start());
    r.pump();
    expect(r.rt.map((t) => t.state)).toEqual(['live', 'live']);
    expect(r.dt.map((t) => t.state)).toEqual(['live', 'live']);
    for (const v of r.plan.vdevs) {
      expect(r.memory.read8(v.statusAddr)).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    }
    // bits 0..31 through the table; VERSION_1 is the transport's own, in force on both sides
    expect(r.devs[0]!.a!.features).toBe((1n << 0n) | (1n << 5n) | (1n << 29n) | (1n << 32n));
    expect(r.rt[0]!.negotiatedFeatures).toBe(r.devs[0]!.a!.features);
    expect(r.memory.read32(r.plan.vdevs[0]!.entry + 16)).toBe(0x2000_0021);
    for (let i = 0; i < 40; i++) {
      r.drvs[i % 2]!.send(new TextEncoder().encode(`m${i}`));
      r.pump();
    }
    expect(r.drvs[0]!.received.map((b) => new TextDecoder().decode(b))).toEqual(Array.from({ length: 20 }, (_, k) => `m${2 * k}`));
    expect(r.drvs[1]!.received.length).toBe(20);
    // kicks and calls carry the vdevs' own notify ids
    expect(new Set(r.kicks)).toEqual(new Set([0, 1, 2, 3]));
  });

  it('clears FEATURES_OK when the device refuses the feature set; the driver re-reads it and fails', () => {
    const r = rig(1);
    r.devs[0]!.refuse = true;
    r.rt[0]!.start();
    r.pump();
    expect(r.rt[0]!.state).toBe('failed');
    expect(r.rt[0]!.lastError?.code).toBe(TransportErrorCode.FEATURES_REFUSED);
    expect(r.dt[0]!.stats.featuresRefused).toBe(1);
    expect(r.devs[0]!.a).toBeUndefined();
    expect(r.memory.read8(r.plan.vdevs[0]!.statusAddr) & DeviceStatus.FAILED).toBe(DeviceStatus.FAILED);
    // a driver without the refused bit gets through after a reset
    r.devs[0]!.refuse = false;
    r.rt[0]!.start();
    r.pump();
    expect(r.rt[0]!.state).toBe('live');
  });

  it('refuses gfeatures with bits the device never offered, even if the driver rewrote dfeatures in the table', () => {
    const r = rig(1, false);
    const v = r.plan.vdevs[0]!;
    r.memory.write32(v.entry + 12, 0xffffffff); // a hostile driver "offers" itself everything
    r.drvs[0]!.want = 1n << 7n;
    r.rt[0]!.start();
    r.pump();
    expect(r.dt[0]!.lastError?.code).toBe(TransportErrorCode.FEATURES_REFUSED);
    expect(r.devs[0]!.a).toBeUndefined();
  });

  it('sets DEVICE_NEEDS_RESET on a status write out of order, and recovers after a reset', () => {
    const r = rig(1);
    const v = r.plan.vdevs[0]!;
    r.memory.write8(v.statusAddr, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER_OK);
    r.dt[0]!.poll();
    expect(r.dt[0]!.state).toBe('needs-reset');
    expect(r.dt[0]!.lastError?.code).toBe(TransportErrorCode.BAD_STATUS);
    expect(r.memory.read8(v.statusAddr) & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
    // nothing the driver writes gets it out, and polling settles (no busy loop)
    r.memory.write8(v.statusAddr, 0x0f | DeviceStatus.DEVICE_NEEDS_RESET);
    expect(r.dt[0]!.poll()).toBe(1);
    expect(r.dt[0]!.poll()).toBe(0);
    expect(r.dt[0]!.state).toBe('needs-reset');
    r.rt[0]!.start();
    r.pump();
    expect(r.rt[0]!.state).toBe('live');
    expect(r.dt[0]!.state).toBe('live');
  });

  it('treats a vring moved in the table as tampering and never builds rings there', () => {
    const r = rig(1);
    const v = r.plan.vdevs[0]!;
    r.rt[0]!.start();
    // run the handshake up to FEATURES_OK acknowledged, then move vring 1 before DRIVER_OK
    r.rt[0]!.poll();
    r.dt[0]!.poll();
    expect(r.rt[0]!.state).toBe('features');
    r.memory.write32(v.entry + 28 + 20, v.vrings[0]!.da);
    r.pump();
    expect(r.dt[0]!.lastError?.code).toBe(TransportErrorCode.TABLE_TAMPERED);
    expect(r.dt[0]!.state).toBe('needs-reset');
    expect(r.rt[0]!.state).toBe('needs-reset');
    expect(r.drvs[0]!.resets).toBe(1);
  });

  it('accepts a vring shrunk by the driver to a smaller power of two', () => {
    const r = rig(1);
    r.drvs[0]!.queueSizes = () => [16, 8];
    r.rt[0]!.start();
    r.pump();
    expect(r.dt[0]!.state).toBe('live');
    expect(r.devs[0]!.a!.queues[1]!.vq.size).toBe(8);
  });

  it('refuses, on the device side, a vring num grown or not a power of two in the table', () => {
    for (const num of [32, 6, 0]) {
      const r = rig(1);
      const v = r.plan.vdevs[0]!;
      r.rt[0]!.start();
      r.rt[0]!.poll(); // ACKNOWLEDGE, DRIVER, FEATURES_OK
      r.dt[0]!.poll(); // acknowledged
      r.rt[0]!.poll(); // queues, DRIVER_OK
      expect(r.rt[0]!.state).toBe('live');
      r.memory.write32(v.entry + 28 + 8, num); // a hostile driver rewrites vring 0's num before the device looks
      r.dt[0]!.poll();
      expect(r.dt[0]!.lastError?.code).toBe(TransportErrorCode.TABLE_TAMPERED);
      expect(r.devs[0]!.a).toBeUndefined();
    }
  });

  it('refuses, on the driver side, queue sizes its own driver asks for beyond the plan', () => {
    const r = rig(1);
    r.drvs[0]!.queueSizes = () => [32, 16];
    r.rt[0]!.start();
    expect(() => r.pump()).toThrow(TransportErrorCode.BAD_ARGUMENT);
  });

  it('carries config space both ways; a read-only field written by the driver keeps the device value', () => {
    const r = rig(1);
    r.rt[0]!.start();
    r.pump();
    const a = r.drvs[0]!.a!;
    const b = new Uint8Array(4);
    a.readConfig(0, b);
    expect(new DataView(b.buffer).getUint32(0, true)).toBe(0xec40);
    a.writeConfig(4, new Uint8Array([1, 2, 3, 4]));
    r.pump();
    expect(Array.from(r.devs[0]!.config.subarray(4))).toEqual([1, 2, 3, 4]);
    a.writeConfig(0, new Uint8Array([9]));
    r.pump();
    a.readConfig(0, b);
    expect(new DataView(b.buffer).getUint32(0, true)).toBe(0xec40);
    expect(() => a.readConfig(6, new Uint8Array(4))).toThrow(TransportErrorCode.BAD_ARGUMENT);
  });

  it('resets the device when the driver writes 0, and comes back live on a new start', () => {
    const r = rig(1);
    r.rt[0]!.start();
    r.pump();
    r.rt[0]!.stop();
    r.pump();
    expect(r.devs[0]!.resets).toBe(1);
    expect(r.dt[0]!.state).toBe('reset');
    r.rt[0]!.start();
    r.pump();
    r.drvs[0]!.send(new Uint8Array([42]));
    r.pump();
    expect(r.drvs[0]!.received.map((x) => x[0])).toEqual([42]);
  });

  it('works with a device that does not acknowledge (awaitAck false), as with foreign firmware', () => {
    const r = rig(2, false);
    r.rt.forEach((t) => t.start());
    r.pump();
    expect(r.dt.map((t) => t.state)).toEqual(['live', 'live']);
  });

  it('signals DEVICE_NEEDS_RESET from the device to the driver', () => {
    const r = rig(1);
    r.rt[0]!.start();
    r.pump();
    r.devs[0]!.a!.needsReset('device gave up');
    r.pump();
    expect(r.rt[0]!.state).toBe('needs-reset');
    expect(r.drvs[0]!.resets).toBe(1);
    expect(r.dt[0]!.lastError?.code).toBe(TransportErrorCode.NEEDS_RESET);
  });

  it('refuses a driver of another device type (BAD_ARGUMENT naming both types)', () => {
    const r = rig(1);
    const v = r.plan.vdevs[0]!;
    expect(() => new RscTableDriverTransport({ memory: r.memory, vdev: { ...v, deviceType: v.deviceType + 1 }, driver: new EchoDriver(), kick: () => {} })).toThrow(
      expect.objectContaining({ code: TransportErrorCode.BAD_ARGUMENT, message: expect.stringContaining(`driver for type ${v.deviceType} given a vdev of type ${v.deviceType + 1}`) }),
    );
  });
});
