/**
 * The host against a remote written here from the byte layout alone: it uses only the VirtIO device API
 * (SplitVirtqueueDevice) and builds/parses RPMsg headers and name-service messages by hand, so host and remote
 * are not merely compatible with each other.
 */
import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { DescriptorChain } from '../../src/virtio/chain.js';
import { SplitVirtqueueDevice } from '../../src/virtio/split/device.js';
import { splitLegacyLayout } from '../../src/virtio/split/layout.js';
import { RpmsgHost, planRpmsgRegion, writeResourceTable, type NameServiceEvent } from '../../src/rpmsg/index.js';
import { BASE, makePayload, checkPayload } from './helpers.js';

class MinimalRemote {
  readonly tx: SplitVirtqueueDevice; // vring0: host-posted empty buffers
  readonly rx: SplitVirtqueueDevice; // vring1: host-filled messages
  readonly chain = new DescriptorChain(4);
  constructor(readonly mem: PhysicalMemory, rsc: number) {
    // resource table by hand: header 16 B, offset[0] -> vdev entry; vrings at vdev+28, 20 B each
    const vdev = rsc + mem.read32(rsc + 16);
    if (mem.read32(vdev) !== 3 || mem.read32(vdev + 4) !== 7) throw new Error('no rpmsg vdev');
    if ((mem.read8(vdev + 24) & 4) === 0) throw new Error('host not at DRIVER_OK');
    const ring = (k: number): { da: number; align: number; num: number } => ({ da: mem.read32(vdev + 28 + 20 * k), align: mem.read32(vdev + 32 + 20 * k), num: mem.read32(vdev + 36 + 20 * k) });
    const r0 = ring(0);
    const r1 = ring(1);
    const f = BigInt(mem.read32(vdev + 16));
    this.tx = new SplitVirtqueueDevice(mem, r0.num, splitLegacyLayout(r0.da, r0.num, r0.align), { features: f & (1n << 29n), maxChainSegments: 4 });
    this.rx = new SplitVirtqueueDevice(mem, r1.num, splitLegacyLayout(r1.da, r1.num, r1.align), { features: f & (1n << 29n), maxChainSegments: 4 });
  }
  send(src: number, dst: number, payload: Uint8Array): boolean {
    if (!this.tx.pop(this.chain)) return false;
    const a = this.chain.addr[0]!;
    const hdr = new Uint8Array(16);
    const v = new DataView(hdr.buffer);
    v.setUint32(0, src, true);
    v.setUint32(4, dst, true);
    v.setUint16(12, payload.length, true);
    this.mem.write(a, hdr);
    this.mem.write(a + 16, payload);
    this.tx.pushUsed(this.chain.head, 16 + payload.length);
    this.tx.publishUsed();
    return true;
  }
  receive(): { src: number; dst: number; data: Uint8Array }[] {
    const out = [];
    while (this.rx.pop(this.chain)) {
      const a = this.chain.addr[0]!;
      const len = this.mem.read16(a + 12);
      out.push({ src: this.mem.read32(a), dst: this.mem.read32(a + 4), data: this.mem.bytes(a + 16, len).slice() });
      this.rx.pushUsed(this.chain.head, 0);
    }
    this.rx.publishUsed();
    return out;
  }
}

describe('host against an independently written minimal remote', () => {
  it('exchanges messages and name-service announcements byte-for-byte', () => {
    const layout = planRpmsgRegion({ base: BASE, numBuffers: 64 });
    const mem = new PhysicalMemory([{ name: 'ipc', base: BASE, size: layout.size }]);
    writeResourceTable(mem, layout);
    const events: NameServiceEvent[] = [];
    const got: number[] = [];
    const host = new RpmsgHost(mem, layout, {
      transport: { notify: () => undefined },
      onNameService: (ev, role) => {
        events.push(ev);
        role.createEndpoint({ addr: 1024, name: ev.name, dst: ev.addr, onMessage: (m) => got.push(checkPayload(m.data)) });
      },
    });
    host.start();
    const remote = new MinimalRemote(mem, layout.rscTable);
    // hand-built NS announcement: name "echo", addr 0x400 + 7, flags 0 (create)
    const ns = new Uint8Array(40);
    ns.set(new TextEncoder().encode('echo'));
    new DataView(ns.buffer).setUint32(32, 1031, true);
    expect(remote.send(1031, 53, ns)).toBe(true);
    host.poll();
    expect(events).toEqual([{ type: 'create', name: 'echo', addr: 1031 }]);
    // remote -> host
    for (let i = 0; i < 100; i++) {
      expect(remote.send(1031, 1024, makePayload(i, 8 + i))).toBe(true);
      if (i % 20 === 19) host.poll();
    }
    host.poll();
    expect(got).toEqual([...Array(100).keys()]);
    // host -> remote: header fields exactly as the wire format says
    const ep = host.endpoint(1024)!;
    for (let i = 0; i < 10; i++) ep.trySend(makePayload(i, 64));
    const msgs = remote.receive();
    expect(msgs.map((m) => [m.src, m.dst, checkPayload(m.data)])).toEqual([...Array(10).keys()].map((i) => [1024, 1031, i]));
    // the host's own announcement, decoded by hand
    host.createEndpoint({ addr: 2000, name: 'host-svc' });
    const [a] = remote.receive();
    expect(a!.dst).toBe(53);
    expect(a!.src).toBe(2000);
    expect(a!.data.length).toBe(40);
    expect(new TextDecoder().decode(a!.data.subarray(0, 8))).toBe('host-svc');
    expect(a!.data[8]).toBe(0);
    expect(new DataView(a!.data.buffer).getUint32(32, true)).toBe(2000);
    expect(new DataView(a!.data.buffer).getUint32(36, true)).toBe(0);
  });
});
