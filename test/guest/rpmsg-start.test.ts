/**
 * The guest's RPMsg host starts the device as Linux's rpmsg probe does: status handshake, RX buffers posted,
 * DRIVER_OK, and then a kick of vring0. The kick is what wakes a remote that sleeps until notified (a secure device
 * with no RT release): it must come after DRIVER_OK (the remote reads the status byte when woken), at start-up and
 * again after every reset, and the sleeping remote must be able to attach from that one wake-up.
 */
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { planRpmsgRegion, writeResourceTable, RpmsgRemote } from '../../src/rpmsg/index.js';
import { DeviceStatus } from '../../src/virtio/status.js';
import { GuestRpmsg } from '../../src/guest/rpmsg.js';

function setup() {
  const plan = planRpmsgRegion({ base: 0x3800_0000, numBuffers: 16, bufferSize: 512 });
  const memory = new PhysicalMemory([{ name: 'ipc', base: 0x3800_0000, size: 1 << 20 }]);
  writeResourceTable(memory, plan);
  const kicks: Array<{ vq: number; status: number }> = [];
  const host = new GuestRpmsg({
    role: 'host',
    memory,
    layout: plan,
    nowMs: () => performance.now(),
    notify: (vq) => kicks.push({ vq, status: memory.read8(plan.statusAddr) }),
    resetPeer: () => undefined,
  });
  return { plan, memory, host, kicks };
}

describe('GuestRpmsg host start-up kick', () => {
  it('sets nothing before start(); start() kicks vring0 once, after DRIVER_OK', () => {
    const { plan, memory, host, kicks } = setup();
    expect(memory.read8(plan.statusAddr)).toBe(0);
    expect(kicks).toEqual([]);
    host.start();
    expect(kicks).toHaveLength(1);
    expect(kicks[0]!.vq).toBe(0);
    expect(kicks[0]!.status & DeviceStatus.DRIVER_OK).toBe(DeviceStatus.DRIVER_OK);
    host.start(); // idempotent: no second start-up, no second kick
    expect(kicks).toHaveLength(1);
  });

  it('a remote that polls only when kicked attaches and its service is found', () => {
    const { plan, memory, host, kicks } = setup();
    const remote = new RpmsgRemote(memory, plan.rscTable, { transport: { notify: () => undefined }, now: () => performance.now() });
    remote.createEndpoint({ name: 'echo' });
    remote.poll(); // it looks once before the driver is there, then sleeps
    expect(remote.ready).toBe(false);
    host.start();
    // the sleeper is woken by the kick alone
    for (const _ of kicks) remote.poll();
    expect(remote.ready).toBe(true);
    host.poll();
    expect(host.role.services.has('echo')).toBe(true);
  });

  it('kicks again after ctx.rpmsg.reset() and after a peer reset', () => {
    const { host, kicks } = setup();
    host.start();
    host.api.reset();
    expect(kicks).toHaveLength(2);
    host.peerReset();
    expect(kicks).toHaveLength(3);
    expect(kicks.every((k) => k.vq === 0 && (k.status & DeviceStatus.DRIVER_OK) !== 0)).toBe(true);
  });
});
