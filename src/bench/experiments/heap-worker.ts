/**
 * Heap check (one worker): an RPMsg host and remote over one shared region in the same thread, `messages` messages
 * host -> remote (copy send, receiver copies out and checks stamps), heap measured after forced GCs before and after.
 * A short run without GC in between estimates the bytes allocated per message on the hot path.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { PhysicalMemory } from '../../virtio/index.js';
import { RpmsgHost, RpmsgRemote, writeResourceTable, type RxMessage } from '../../rpmsg/index.js';
import { rpmsgPlan, RPMSG_IPC_BASE } from '../contenders/rpmsg.js';
import { appBuffer, checkStamp, stamp } from '../shared.js';
import { PayloadViews } from '../contenders/rpmsg.js';
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
const app = appBuffer(size);
const dst = new Uint8Array(size);
const dst32 = new Uint32Array(dst.buffer);
const views = new PayloadViews(size);
let received = 0;
let bad = 0;
const tx = host.createEndpoint({ addr: 0x400, dst: 0x401 });
remote.createEndpoint({
  addr: 0x401,
  dst: 0x400,
  onMessage: (m) => {
    const r = m as RxMessage;
    dst.set(views.get(r));
    if (!checkStamp(dst32, 0, size, received)) bad++;
    received++;
  },
});
let sent = 0;
function pump(n: number): void {
  const end = sent + n;
  while (sent < end) {
    stamp(app.u32, 0, size, sent);
    if (tx.trySend(app.u8)) sent++;
    else remote.poll();
  }
  remote.poll();
}
const used = (): number => v8.getHeapStatistics().used_heap_size;

pump(20_000); // warm-up: JIT, buffers all touched
gc();
gc();
const a0 = used();
pump(20_000);
const a1 = used();
const alloc = Math.max(0, (a1 - a0) / 20_000);
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
