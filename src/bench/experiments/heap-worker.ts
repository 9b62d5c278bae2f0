/**
 * Heap check (one worker): an RPMsg host and remote over one shared region in the same thread, `messages` messages
 * host -> remote (copy send `trySend`, corked bursts; the receiver copies out with `msg.copyTo` and checks stamps), heap measured after forced GCs before and after.
 * Heap use at the end of the run before any GC gives the bytes allocated per message (an upper bound: it includes
 * one-off costs) and the GC count during the run shows whether anything was collected.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { PhysicalMemory } from '../../virtio/index.js';
import { RpmsgHost, RpmsgRemote, writeResourceTable } from '../../rpmsg/index.js';
import { rpmsgPlan, RPMSG_IPC_BASE } from '../contenders/rpmsg.js';
import { appBuffer, checkStamp, stamp } from '../shared.js';
import type { HeapResult } from '../types.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const { messages, size } = workerData as { messages: number; size: number };
const layout = rpmsgPlan(size, 64);
const memory = new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: layout.size }]);
writeResourceTable(memory, layout);
const host = new RpmsgHost(memory, layout, { transport: { notify: () => {} } });
host.start();
const remote = new RpmsgRemote(memory, layout.rscTable, { transport: { notify: () => {} } });
remote.poll();
if (remote.state !== 'ready') throw new Error('heap: remote did not attach');
host.disarmRx();
remote.disarmRx();
const app = appBuffer(size);
const dst = new Uint8Array(size);
const dst32 = new Uint32Array(dst.buffer);
let received = 0;
let bad = 0;
const tx = host.createEndpoint({ addr: 0x400, dst: 0x401 });
remote.createEndpoint({
  addr: 0x401,
  dst: 0x400,
  onMessage: (m) => {
    m.copyTo(dst);
    if (!checkStamp(dst32, 0, size, received)) bad++;
    received++;
  },
});
let sent = 0;
function pump(n: number): void {
  const end = sent + n;
  while (sent < end) {
    // a corked burst until the TX buffers run out, then the remote drains it (both sides polling: disarmed)
    host.cork();
    while (sent < end) {
      stamp(app.u32, 0, size, sent);
      if (!tx.trySend(app.u8)) break;
      sent++;
    }
    host.uncork();
    remote.poll();
  }
  remote.poll();
}
const used = (): number => v8.getHeapStatistics().used_heap_size;

pump(200_000); // warm-up: JIT (optimised code for every path), buffers all touched
// Bytes allocated per message: heap use at the end of the measured run, before any GC, minus heap use at its start,
// over the messages: an upper bound. After a forced GC V8 allocates a fixed ~0.1-0.3 MB again (feedback, code)
// whatever the run length; over a short run that reads as a per-message cost (0.5-1.6 B/message over 20 000
// messages, 0.05 over 3e6), so only the long run is used.

gc();
gc();
let gcs = 0;
const obs = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});
obs.observe({ entryTypes: ['gc'] });
const before = used();
pump(messages);
await new Promise((r) => setImmediate(r)); // PerformanceObserver entries arrive on the event loop
const gcsDuring = gcs;
const alloc = Math.max(0, (used() - before) / messages);
gc();
gc();
const after = used();
obs.disconnect();
const result: HeapResult = {
  experiment: 'heap',
  contender: 'rpmsg',
  messages,
  heapBeforeBytes: before,
  heapAfterBytes: after,
  growthBytes: after - before,
  bytesPerMessage: (after - before) / messages,
  allocBytesPerMessage: Math.round(alloc * 100) / 100,
  gcs: gcsDuring,
  verified: bad === 0 && received === sent,
};
parentPort!.postMessage(result);
