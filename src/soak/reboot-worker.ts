/**
 * One partition of the crash-and-reboot run (reboot.ts): `role: 'secure'` is the RPMsg remote receiving the stream
 * (it runs for the whole run), `role: 'nonsecure'` the RPMsg host sending it (killed mid-stream, then booted again).
 *
 * Notifications are doorbell words in a control SharedArrayBuffer (Atomics.add + notify; the other side waits with
 * Atomics.wait). The sender learns where to resume from the receiver itself: after (re)booting it resets the device,
 * restarts it and sends RESUME; the receiver answers with its cumulative acknowledgement (messages delivered in order).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PhysicalMemory } from '../virtio/memory.js';
import { RpmsgHost, RpmsgRemote } from '../rpmsg/index.js';
import { FRAME_HEADER, KIND_ACK, KIND_DATA, StreamChecker, decodeFrame, encodeFrame, fillBody } from './frame.js';
import { KIND_RESUME, R_ACKED, R_NS_BELL, R_SECURE_BEAT, R_SECURE_BELL, R_STOP, type RebootWorkerData } from './reboot-ctrl.js';

const SERVICE = 'tz-soak';


const d = workerData as RebootWorkerData;
const ctrl = new Int32Array(d.ctrl);
const memory = new PhysicalMemory([{ name: 'ipc', base: d.layout.base, size: d.layout.size, buffer: d.region }]);
const ring = (bell: number) => {
  Atomics.add(ctrl, bell, 1);
  Atomics.notify(ctrl, bell);
};
const waitBell = (bell: number, seen: number, ms: number) => Atomics.wait(ctrl, bell, seen, ms);

if (d.role === 'secure') runSecure();
else runNonSecure();

function runSecure(): void {
  const remote = new RpmsgRemote(memory, d.layout.rscTable, {
    transport: { notify: () => ring(R_NS_BELL) },
    bufferWindow: { base: d.layout.buffers.base, size: d.layout.buffers.count * d.layout.buffers.size },
  });
  const data = new StreamChecker();
  const ack = new Uint8Array(FRAME_HEADER + 4);
  let ackSeq = 0;
  let ackedSent = -1;
  let peer = -1;
  let ackNow = false;
  let resets = 0;
  const ep = remote.createEndpoint({
    name: SERVICE,
    onMessage: (m) => {
      peer = m.src;
      const f = decodeFrame(m.data);
      if (f !== undefined && f.kind === KIND_RESUME) {
        ackNow = true;
        return;
      }
      data.accept(m.data, KIND_DATA);
      if (data.delivered - ackedSent >= 16) ackNow = true;
    },
  });
  const flush = () => {
    if (peer < 0 || (!ackNow && ackedSent === data.delivered)) return;
    const n = data.delivered;
    const len = encodeFrame(ack, ackSeq, KIND_ACK, 4, (b) => new DataView(b.buffer, b.byteOffset, 4).setUint32(0, n, true));
    if (ep.trySendTo(peer, ack.subarray(0, len))) {
      ackSeq++;
      ackedSent = n;
      ackNow = false;
    }
  };
  let last = performance.now();
  let maxGapMs = 0;
  let wasReady = false;
  while (Atomics.load(ctrl, R_STOP) === 0) {
    const seen = Atomics.load(ctrl, R_SECURE_BELL);
    remote.poll();
    if (remote.ready !== wasReady) {
      wasReady = remote.ready;
      if (!wasReady) resets++;
    }
    if (remote.ready) flush();
    Atomics.add(ctrl, R_SECURE_BEAT, 1);
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    waitBell(R_SECURE_BELL, seen, 1);
  }
  parentPort!.postMessage({
    delivered: data.delivered,
    lost: data.lost,
    duplicated: data.duplicated,
    corrupted: data.corrupted,
    expected: data.expected,
    peerErrors: remote.stats.peerErrors,
    droppedMalformed: remote.stats.droppedMalformed,
    detaches: resets,
    maxLoopGapMs: maxGapMs,
  });
}

function runNonSecure(): void {
  const host = new RpmsgHost(memory, d.layout, { transport: { notify: () => ring(R_SECURE_BELL) } });
  // A (re)booted OS resets the device first, and lets the remote see it (status 0) before starting it again.
  host.reset();
  ring(R_SECURE_BELL);
  const t0 = performance.now();
  while (performance.now() - t0 < 20) waitBell(R_NS_BELL, Atomics.load(ctrl, R_NS_BELL), 2);
  host.start();
  ring(R_SECURE_BELL);
  let acked = -1;
  const acks = new StreamChecker();
  const ep = host.createEndpoint({
    onMessage: (m) => {
      const f = acks.accept(m.data, KIND_ACK);
      if (f === undefined) return;
      const n = new DataView(f.body.buffer, f.body.byteOffset, 4).getUint32(0, true);
      if (n > acked) {
        acked = n;
        // Publish what this sender has seen acknowledged (the checker's "acknowledged" set).
        Atomics.store(ctrl, R_ACKED, Math.max(Atomics.load(ctrl, R_ACKED), n));
      }
    },
  });
  const pump = (until: () => boolean, ms: number): boolean => {
    const t = performance.now();
    while (!until()) {
      if (performance.now() - t > ms || Atomics.load(ctrl, R_STOP) !== 0) return false;
      const seen = Atomics.load(ctrl, R_NS_BELL);
      host.poll();
      if (until()) return true;
      waitBell(R_NS_BELL, seen, 1);
    }
    return true;
  };
  if (!pump(() => host.services.has(SERVICE), 5000)) throw new Error('no tz-soak service after boot');
  const dst = host.services.get(SERVICE)!;
  // RESUME: the receiver tells us how many messages it has delivered in order; we go on from there.
  const frame = new Uint8Array(FRAME_HEADER + d.layout.buffers.size);
  const n = encodeFrame(frame, 0, KIND_RESUME, 0, () => undefined);
  if (!pump(() => ep.trySendTo(dst, frame.subarray(0, n)), 5000)) throw new Error('cannot send RESUME');
  if (!pump(() => acked >= 0, 5000)) throw new Error('no answer to RESUME');
  let next = acked;
  const resumedAt = acked;
  parentPort!.postMessage({ resumedAt });
  const maxBody = host.maxPayload - FRAME_HEADER;
  let r = (d.seed + d.boot * 7919) | 1;
  const size = () => {
    r ^= r << 13;
    r ^= r >>> 17;
    r ^= r << 5;
    return (r >>> 0) % (maxBody + 1);
  };
  while (acked < d.messages && Atomics.load(ctrl, R_STOP) === 0) {
    host.cork();
    while (next < d.messages && next - acked < d.window) {
      const len = encodeFrame(frame, next, KIND_DATA, size(), (b) => fillBody(b, d.seed, next));
      if (!ep.trySendTo(dst, frame.subarray(0, len))) break;
      next++;
    }
    host.uncork();
    const seen = Atomics.load(ctrl, R_NS_BELL);
    host.poll();
    waitBell(R_NS_BELL, seen, 1);
    host.poll();
  }
  parentPort!.postMessage({ done: true, acked });
}
