/**
 * RPMsg on the device seam: RpmsgDevice (remote) and RpmsgDriver (host) carried by the in-thread LoopbackTransport
 * and by a hand-built activation (a hostile driver), compared byte for byte with the resource-table roles.
 */
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { RpmsgDevice } from '../../src/rpmsg/device.js';
import { RpmsgDriver } from '../../src/rpmsg/driver.js';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { SplitVirtqueueDriver } from '../../src/virtio/split/driver.js';
import { SplitVirtqueueDevice } from '../../src/virtio/split/device.js';
import { splitLegacyLayout } from '../../src/virtio/split/layout.js';
import { VirtioFeature, bit } from '../../src/virtio/features.js';
import type { DeviceActivation } from '../../src/virtio/device.js';
import { encodeNsMessage } from '../../src/rpmsg/name-service.js';
import { encodeRpmsgHeader } from '../../src/rpmsg/header.js';
import { RPMSG_NS_ADDR, VIRTIO_RPMSG_F_NS } from '../../src/rpmsg/constants.js';
import { deviceKind } from '../../src/devices/index.js';
import { checkPayload, makePair, makePayload, pump, startPair } from './helpers.js';

const Q = 16;
const BUF = 128;

/** The remote echoes on service "echo" at address 0x400; the host sends `count` payloads and checks the echoes. */
function echoScript(
  host: { createEndpoint: RpmsgDriver['role']['createEndpoint']; services: Map<string, number> },
  remote: RpmsgDevice['role'],
): { send(i: number): boolean; got: number[] } {
  remote.createEndpoint({ name: 'echo', addr: 0x400, onMessage: (m, ep) => void ep.trySendTo(m.src, m.data) });
  const got: number[] = [];
  let ep: ReturnType<typeof host.createEndpoint> | undefined;
  return {
    got,
    send(i) {
      ep ??= host.createEndpoint({ addr: 0x500, dst: host.services.get('echo')!, onMessage: (m) => void got.push(checkPayload(m.copy())) });
      return ep.trySend(makePayload(i, 40 + (i % 50)));
    },
  };
}

describe('RPMsg over the loopback transport (split rings)', () => {
  it('brings both roles up, announces the remote service by name service and exchanges echoes in order', () => {
    const driver = new RpmsgDriver({ queueSize: Q, bufferSize: BUF });
    const device = new RpmsgDevice({ queueMaxSize: 64 });
    const s = echoScript(driver.role, device.role);
    const t = new LoopbackTransport(driver, device);
    t.settle();
    expect(t.packed).toBe(false);
    expect(t.features).toBe(bit(VIRTIO_RPMSG_F_NS) | bit(VirtioFeature.EVENT_IDX) | bit(VirtioFeature.VERSION_1));
    expect(driver.role.ready && device.role.ready).toBe(true);
    expect(driver.role.nameService && device.role.nameService).toBe(true);
    expect(driver.role.services.get('echo')).toBe(0x400);
    for (let i = 0; i < 500; i++) {
      while (!s.send(i)) t.settle();
    }
    t.settle();
    expect(s.got).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(device.role.stats.droppedMalformed + driver.role.stats.droppedMalformed).toBe(0);
    expect(driver.role.maxPayload).toBe(BUF - 16);
  });

  it('writes the same bytes into the buffers as the resource-table roles (the wire format is unchanged)', () => {
    const count = 40;
    // resource table
    const p = makePair({ numBuffers: 2 * Q, bufferSize: BUF });
    const a = echoScript(p.host, p.remote);
    startPair(p);
    pump(p);
    for (let i = 0; i < count; i++) {
      expect(a.send(i)).toBe(true);
      pump(p);
    }
    // seam
    const driver = new RpmsgDriver({ queueSize: Q, bufferSize: BUF });
    const device = new RpmsgDevice({ queueMaxSize: Q });
    const b = echoScript(driver.role, device.role);
    const t = new LoopbackTransport(driver, device);
    t.settle();
    // the RPMsg wire format: RX buffer 0 holds the name-service announcement of "echo" (header + rpmsg_ns_msg)
    const ns = new Uint8Array(16 + 40);
    encodeRpmsgHeader({ src: 0x400, dst: RPMSG_NS_ADDR, reserved: 0, len: 40, flags: 0 }, ns, 0);
    encodeNsMessage({ name: 'echo', addr: 0x400, flags: 0 }, ns, 16);
    expect(Buffer.from(t.memory.bytes(driver.role.bufferPool.base, 56)).toString('hex')).toBe(Buffer.from(ns).toString('hex'));
    for (let i = 0; i < count; i++) {
      expect(b.send(i)).toBe(true);
      t.settle();
    }
    expect(a.got).toEqual(b.got);
    expect(b.got.length).toBe(count);
    const poolBytes = 2 * Q * BUF;
    const tablePool = p.memory.bytes(p.layout.buffers.base, poolBytes);
    const seamPoolBase = driver.role.bufferPool.base;
    const seamPool = t.memory.bytes(seamPoolBase, poolBytes);
    expect(Buffer.from(seamPool).equals(Buffer.from(tablePool))).toBe(true);
  });

  it('survives a reset: endpoints stay, the service is announced again on the new activation', () => {
    const driver = new RpmsgDriver({ queueSize: Q, bufferSize: BUF });
    const device = new RpmsgDevice({ queueMaxSize: Q });
    const s = echoScript(driver.role, device.role);
    new LoopbackTransport(driver, device).settle();
    expect(s.send(0)).toBe(true);
    driver.reset();
    device.reset();
    expect(driver.role.ready || device.role.ready).toBe(false);
    expect(driver.role.services.size).toBe(0);
    const t = new LoopbackTransport(driver, device, { base: 0x2000_0000 });
    t.settle();
    expect(driver.role.services.get('echo')).toBe(0x400);
    for (let i = 1; i <= 50; i++) {
      while (!s.send(i)) t.settle();
    }
    t.settle();
    // message 0 may or may not have been echoed before the reset; every message after it, exactly once and in order
    expect(s.got.filter((x) => x > 0)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('is a registry line: the "rpmsg" kind builds the two roles and counts their messages', () => {
    const kind = deviceKind('rpmsg')!;
    expect(kind.id).toBe(7);
    const device = kind.device({ queueSize: 32 }) as RpmsgDevice;
    const driver = kind.driver({ queueSize: 32, bufferSize: 256 }) as RpmsgDriver;
    expect(device.queueMaxSizes).toEqual([32, 32]);
    expect(driver.poolBytes).toBe(2 * 32 * 256);
    const s = echoScript(driver.role, device.role);
    const t = new LoopbackTransport(driver, device);
    t.settle();
    for (let i = 0; i < 10; i++) expect(s.send(i)).toBe(true);
    t.settle();
    expect(kind.driverCounters(driver)).toMatchObject({ sent: 10, received: 11, corrupted: 0 });
    expect(kind.deviceCounters(device)).toMatchObject({ sent: 11, received: 10, corrupted: 0 });
  });
});

describe('RPMsg over the loopback transport (packed rings)', () => {
  it('runs unchanged when the driver accepts RING_PACKED (the roles program against the virtqueue interfaces)', () => {
    const driver = new RpmsgDriver({ queueSize: Q, bufferSize: BUF, packed: true });
    const device = new RpmsgDevice({ queueMaxSize: Q });
    const s = echoScript(driver.role, device.role);
    const t = new LoopbackTransport(driver, device);
    t.settle();
    expect(t.packed).toBe(true);
    for (let i = 0; i < 300; i++) {
      while (!s.send(i)) t.settle();
    }
    t.settle();
    expect(s.got).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});

describe('RpmsgDevice against a hostile driver (hand-built activation, split rings)', () => {
  const BASE = 0x4000_0000;
  function rig() {
    const memory = new PhysicalMemory([{ name: 'win', base: BASE, size: 0x10000 }]);
    const l0 = splitLegacyLayout(BASE, Q, 4096);
    const l1 = splitLegacyLayout(BASE + 0x2000, Q, 4096);
    const f = bit(VIRTIO_RPMSG_F_NS) | bit(VirtioFeature.VERSION_1);
    const drv0 = new SplitVirtqueueDriver<number>(memory, Q, l0, { features: f });
    const drv1 = new SplitVirtqueueDriver<number>(memory, Q, l1, { features: f });
    const resets: string[] = [];
    const notified = [0, 0];
    const device = new RpmsgDevice({ queueMaxSize: Q });
    const activation = (): DeviceActivation => ({
      features: f,
      memory,
      queues: [
        { index: 0, vq: new SplitVirtqueueDevice(memory, Q, l0, { features: f }), notify: () => notified[0]!++ },
        { index: 1, vq: new SplitVirtqueueDevice(memory, Q, l1, { features: f }), notify: () => notified[1]!++ },
      ],
      configChanged: () => undefined,
      needsReset: (why) => void resets.push(why),
    });
    return { memory, drv0, drv1, device, resets, notified, activation, l1 };
  }

  it('drops and counts buffers of the wrong shape, and writes nothing into them', () => {
    const r = rig();
    const got: number[] = [];
    r.device.role.createEndpoint({ addr: 0x400, onMessage: (m) => void got.push(m.len) });
    r.device.activate(r.activation());
    expect(r.device.role.ready).toBe(true);
    const pool = BASE + 0x8000;
    // a readable buffer on vring0, where the remote must write: refused, returned with length 0, left untouched
    r.memory.fill(pool, 64, 0xaa);
    r.drv0.addBuffer(pool, 64, false, 1);
    // two-segment chain and a too-short buffer on vring1: dropped
    r.drv1.add([{ addr: pool + 0x100, len: 8 }, { addr: pool + 0x108, len: 40 }], [], 2);
    r.drv1.addBuffer(pool + 0x200, 8, false, 3);
    // a header claiming more payload than the buffer holds: dropped
    r.memory.write(pool + 0x300, encodeRpmsgHeader({ src: 0x500, dst: 0x400, reserved: 0, len: 100, flags: 0 }));
    r.drv1.addBuffer(pool + 0x300, 32, false, 4);
    // a good one
    r.memory.write(pool + 0x400, encodeRpmsgHeader({ src: 0x500, dst: 0x400, reserved: 0, len: 4, flags: 0 }));
    r.drv1.addBuffer(pool + 0x400, 20, false, 5);
    r.drv0.kick();
    r.drv1.kick();
    expect(() => r.device.poll()).not.toThrow();
    expect(got).toEqual([4]);
    expect(r.device.role.stats.droppedMalformed).toBe(3);
    expect(r.device.role.endpoint(0x400)!.trySendTo(0x500, new Uint8Array([1, 2, 3]))).toBe(false);
    expect(r.device.role.stats.droppedMalformed).toBe(4);
    expect([...r.memory.bytes(pool, 64)].every((b) => b === 0xaa)).toBe(true);
    expect(r.drv0.popUsed()).toBe(1);
    expect(r.drv0.lastUsedLen).toBe(0);
    expect(r.resets).toEqual([]);
  });

  it('turns a broken ring rule into needsReset() without throwing, and attaches again after reset + activate', () => {
    const r = rig();
    r.device.activate(r.activation());
    // avail.idx of vring1 jumps ahead by more than the ring size (§2.7.13: a driver error)
    r.memory.write16(r.l1.avail + 2, Q + 5);
    expect(() => r.device.poll()).not.toThrow();
    expect(r.resets.length).toBe(1);
    expect(r.device.role.ready).toBe(false);
    expect(r.device.role.stats.peerErrors).toBe(1);
    expect(r.device.poll()).toBe(0);
    expect(r.resets.length).toBe(1);
    r.device.reset();
    r.memory.fill(BASE, 0x4000);
    r.device.activate(r.activation());
    expect(r.device.role.ready).toBe(true);
  });

  it('refuses a feature set it did not offer and a config access (there is no config space)', () => {
    const d = new RpmsgDevice({ packed: false });
    expect(d.checkFeatures(bit(VirtioFeature.RING_PACKED))).toMatch(/not offered/);
    expect(d.checkFeatures(bit(VIRTIO_RPMSG_F_NS) | bit(VirtioFeature.EVENT_IDX))).toBeUndefined();
    expect(() => d.readConfig(0, new Uint8Array(4))).toThrow(/RPMSG_ERR_BAD_ARGUMENT|no config space/);
    expect(() => new RpmsgDriver({ queueSize: 3 })).toThrow(/power of two/);
    expect(() => new RpmsgDriver({ bufferSize: 20 })).toThrow(/bufferSize/);
  });
});
