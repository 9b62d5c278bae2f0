/**
 * RPMsg micro benchmarks: one message sent and received per operation, host and remote over one memory in one
 * thread, poll-driven (no notifications delivered: the transport only counts). Sends are batched up to the ring
 * size between polls, as a real burst would be; the cost per message covers header write, payload copy (or the
 * in-place write for zero-copy), ring publish, pop, header validation, dispatch and buffer return.
 *
 * "corked" variants send each burst between cork() and uncork() (one index publish per burst) to a receiver that
 * polls with its RX notifications off (disarmRx), as a busy polling receiver would: the batched data path.
 */
import type { MicroBench } from './types.js';
import { PhysicalMemory } from '../../virtio/memory.js';
import { planRpmsgRegion, writeResourceTable } from '../../rpmsg/layout.js';
import { RpmsgHost } from '../../rpmsg/host.js';
import { RpmsgRemote } from '../../rpmsg/remote.js';
import type { Endpoint } from '../../rpmsg/endpoint.js';

interface Setup {
  host: RpmsgHost;
  remote: RpmsgRemote;
  sender: Endpoint;
  senderRole: RpmsgHost | RpmsgRemote;
  receiverRole: RpmsgHost | RpmsgRemote;
  received: () => number;
}

function setup(direction: 'h2r' | 'r2h'): Setup {
  const layout = planRpmsgRegion({ base: 0x1000_0000 });
  const memory = new PhysicalMemory([{ name: 'ipc', base: layout.base, size: layout.size }]);
  writeResourceTable(memory, layout);
  const transport = { notify: (): void => undefined };
  const host = new RpmsgHost(memory, layout, { transport });
  const remote = new RpmsgRemote(memory, layout.rscTable, { transport });
  host.start();
  remote.poll();
  let count = 0;
  let sink = 0;
  const onMessage = (m: { len: number }): void => {
    count++;
    sink += m.len;
  };
  const [senderRole, receiverRole] = direction === 'h2r' ? [host, remote] : [remote, host];
  receiverRole.createEndpoint({ addr: 2000, onMessage });
  const sender = senderRole.createEndpoint({ addr: 1500, dst: 2000 });
  return { host, remote, sender, senderRole, receiverRole, received: () => count + (sink & 0) };
}

function copyBench(direction: 'h2r' | 'r2h', size: number): MicroBench {
  return {
    name: `rpmsg/${direction === 'h2r' ? 'host->remote' : 'remote->host'} send+receive ${size}B copy`,
    prepare() {
      const s = setup(direction);
      const payload = new Uint8Array(size).fill(0x5a);
      return (n: number) => {
        let left = n;
        while (left > 0) {
          let k = 0;
          while (k < left && s.sender.trySend(payload)) k++;
          s.receiverRole.poll();
          s.senderRole.poll();
          left -= k;
        }
      };
    },
  };
}

function zeroCopyBench(direction: 'h2r' | 'r2h', size: number): MicroBench {
  return {
    name: `rpmsg/${direction === 'h2r' ? 'host->remote' : 'remote->host'} send+receive ${size}B zero-copy`,
    prepare() {
      const s = setup(direction);
      return (n: number) => {
        let left = n;
        while (left > 0) {
          let k = 0;
          while (k < left) {
            const b = s.senderRole.getTxBuffer();
            if (b === undefined) break;
            b.data[0] = k & 0xff;
            b.data[size - 1] = 1;
            s.sender.sendNoCopy(b, size);
            k++;
          }
          s.receiverRole.poll();
          s.senderRole.poll();
          left -= k;
        }
      };
    },
  };
}

function corkedBench(direction: 'h2r' | 'r2h', size: number): MicroBench {
  return {
    name: `rpmsg/${direction === 'h2r' ? 'host->remote' : 'remote->host'} send+receive ${size}B copy corked`,
    prepare() {
      const s = setup(direction);
      s.receiverRole.disarmRx();
      const payload = new Uint8Array(size).fill(0x5a);
      return (n: number) => {
        let left = n;
        while (left > 0) {
          let k = 0;
          s.senderRole.cork();
          while (k < left && s.sender.trySend(payload)) k++;
          s.senderRole.uncork();
          s.receiverRole.poll();
          s.senderRole.poll();
          left -= k;
        }
      };
    },
  };
}

export const benches: MicroBench[] = [];
for (const size of [16, 64, 256, 496]) {
  benches.push(copyBench('h2r', size), zeroCopyBench('h2r', size), copyBench('r2h', size), zeroCopyBench('r2h', size));
}
for (const size of [64, 496]) benches.push(corkedBench('h2r', size), corkedBench('r2h', size));
