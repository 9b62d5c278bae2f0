import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump } from './helpers.js';
import { RPMSG_ADDR_ANY, RpmsgErrorCode, type NameServiceEvent } from '../../src/rpmsg/index.js';

describe('name service', () => {
  it('a remote announcement makes the host create the matching channel, and destroy unbinds it', () => {
    const events: NameServiceEvent[] = [];
    const p = makePair({}, { onNameService: (ev, role) => {
      events.push(ev);
      if (ev.type === 'create') role.createEndpoint({ name: ev.name, dst: ev.addr });
    } });
    startPair(p);
    const svc = p.remote.createEndpoint({ name: 'tz-sign' });
    expect(svc.addr).toBeGreaterThanOrEqual(1024);
    expect(svc.announced).toBe(true);
    pump(p);
    expect(events).toEqual([{ type: 'create', name: 'tz-sign', addr: svc.addr }]);
    expect(p.host.services.get('tz-sign')).toBe(svc.addr);
    // the host's channel endpoint talks to the service; the service learns the host's address
    const chan = [...Array(5000).keys()].map((a) => p.host.endpoint(a)).find((e) => e?.name === 'tz-sign')!;
    expect(chan.dst).toBe(svc.addr);
    expect(chan.trySend(new TextEncoder().encode('hello'))).toBe(true);
    pump(p);
    expect(svc.dst).toBe(chan.addr);
    let unbound = 0;
    chan.onUnbind = () => unbound++;
    svc.destroy();
    pump(p);
    expect(unbound).toBe(1);
    expect(chan.dst).toBe(RPMSG_ADDR_ANY);
    expect(p.host.services.has('tz-sign')).toBe(false);
    expect(() => svc.trySend(new Uint8Array(1))).toThrow(RpmsgErrorCode.ENDPOINT_DESTROYED);
  });

  it('binds a local endpoint of the same name on announcement, in either direction', () => {
    const p = makePair();
    startPair(p);
    const local = p.remote.createEndpoint({ name: 'echo', announce: false });
    const hostSvc = p.host.createEndpoint({ name: 'echo' });
    pump(p);
    expect(local.dst).toBe(hostSvc.addr);
    expect(p.remote.services.get('echo')).toBe(hostSvc.addr);
  });

  it('endpoints created before the remote attached are announced when it does', () => {
    const p = makePair();
    const early = p.remote.createEndpoint({ name: 'early' });
    expect(early.announced).toBe(false);
    p.host.start();
    pump(p);
    expect(early.announced).toBe(true);
    expect(p.host.services.get('early')).toBe(early.addr);
  });

  it('without VIRTIO_RPMSG_F_NS nothing is announced and address 53 is an unknown address', () => {
    const p = makePair({ features: 0 });
    startPair(p);
    expect(p.host.nameService).toBe(false);
    expect(() => p.remote.createEndpoint({ name: 'x', announce: true })).toThrow(RpmsgErrorCode.NO_NAME_SERVICE);
    const e = p.remote.createEndpoint({ name: 'y' });
    expect(e.announced).toBe(false);
    p.remote.createEndpoint({ dst: 53 }).trySend(new Uint8Array(40));
    pump(p);
    expect(p.host.stats.droppedUnknownDst).toBe(1);
  });

  it('counts a malformed announcement and keeps going', () => {
    const p = makePair();
    startPair(p);
    const e = p.remote.createEndpoint({ dst: 53 });
    e.trySend(new Uint8Array(39));
    e.trySend(new Uint8Array(40)); // empty name
    pump(p);
    expect(p.host.stats.droppedMalformed).toBe(2);
    expect(p.host.ready).toBe(true);
  });

  it('allocates dynamic addresses from 1024 and refuses a taken address', () => {
    const p = makePair();
    startPair(p);
    const a = p.host.createEndpoint();
    const b = p.host.createEndpoint();
    expect([a.addr, b.addr]).toEqual([1024, 1025]);
    expect(() => p.host.createEndpoint({ addr: 1025 })).toThrow(RpmsgErrorCode.ADDR_IN_USE);
    expect(() => p.host.createEndpoint({ addr: 53 })).toThrow(RpmsgErrorCode.ADDR_IN_USE);
    a.destroy();
    expect(p.host.createEndpoint({ addr: 1024 }).addr).toBe(1024);
    expect(p.host.createEndpoint({ addr: RPMSG_ADDR_ANY }).addr).toBe(1026);
  });
});

describe('name-service flood', () => {
  /** The host announces `n` distinct names to the remote, in bursts the ring holds. */
  function flood(p: ReturnType<typeof makePair>, n: number, prefix = 'svc'): void {
    const ns = p.host.createEndpoint({ dst: 53 });
    const msg = new Uint8Array(40);
    let sent = 0;
    while (sent < n) {
      p.host.cork();
      while (sent < n) {
        msg.fill(0, 0, 32);
        msg.set(new TextEncoder().encode(`${prefix}${sent}`));
        new DataView(msg.buffer).setUint32(32, 5000 + sent, true);
        if (!ns.trySend(msg)) break;
        sent++;
      }
      p.host.uncork();
      pump(p);
    }
    pump(p);
  }

  it('the remote keeps at most maxServices names, drops and counts the rest', () => {
    const p = makePair({}, {}, { maxServices: 100 });
    startPair(p);
    flood(p, 5000);
    expect(p.remote.services.size).toBe(100);
    expect(p.remote.stats.droppedNameService).toBe(4900);
    expect(p.remote.services.get('svc99')).toBe(5099);
    expect(p.remote.services.has('svc100')).toBe(false);
    expect(p.remote.ready).toBe(true);
  });

  it('default cap 1024; a known name still updates, and a destroy makes room', () => {
    const p = makePair();
    startPair(p);
    flood(p, 1100);
    expect(p.remote.services.size).toBe(1024);
    expect(p.remote.stats.droppedNameService).toBe(76);
    const ns = p.host.createEndpoint({ dst: 53 });
    const m = new Uint8Array(40);
    m.set(new TextEncoder().encode('svc3'));
    new DataView(m.buffer).setUint32(32, 77, true);
    ns.trySend(m);
    pump(p);
    expect(p.remote.services.get('svc3')).toBe(77);
    new DataView(m.buffer).setUint32(36, 1, true); // DESTROY svc3 @ 77
    ns.trySend(m);
    pump(p);
    expect(p.remote.services.size).toBe(1023);
    flood(p, 1, 'late');
    expect(p.remote.services.get('late0')).toBe(5000);
    expect(p.remote.stats.droppedNameService).toBe(76);
  });

  it('refuses a bad maxServices', () => {
    expect(() => makePair({}, { maxServices: -1 })).toThrow(RpmsgErrorCode.BAD_ARGUMENT);
  });
});
