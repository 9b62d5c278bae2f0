/**
 * Peers: MessagePort.postMessage between the two workers (a MessageChannel), with structured clone
 * ("postMessage-clone": the runtime copies the bytes on both sides) or with transfer ("postMessage-transfer": the
 * sender produces each message into a fresh ArrayBuffer and hands it over; no copy by the runtime). The receiver
 * reads every byte: the clone has copied it into the receiver's memory; a transferred buffer is already the
 * receiver's, so every byte of it is compared with the expected message (MessageVerifier, as the in-place rows of
 * the shared-memory transports do). Same window:
 * the receiver acknowledges cumulatively every window/4 messages and at the end; the sender keeps at most `window`
 * unacknowledged. Waiting is the event loop's (policy "event-loop").
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { threadCpuNs } from '../cpu.js';
import { verifyFailed } from '../errors.js';
import { appBuffer, checkStamp, MessageVerifier, stamp } from '../shared.js';
import type { SideReport, TrialSpec } from '../types.js';

type Kind = 'clone' | 'transfer';

function timer() {
  let t0 = -1;
  let c0 = 0;
  let p0 = 0;
  return {
    get marked(): boolean {
      return t0 >= 0;
    },
    mark(progress: number): void {
      p0 = progress;
      c0 = threadCpuNs();
      t0 = performance.now();
    },
    done(progress: number): { messages: number; elapsedNs: number; cpuNs: number } {
      const t1 = performance.now();
      return { messages: progress - p0, elapsedNs: (t1 - t0) * 1e6, cpuNs: threadCpuNs() - c0 };
    },
  };
}

function sender(kind: Kind, port: MessagePort, spec: TrialSpec): Promise<SideReport> {
  const { size, window } = spec;
  const total = spec.warmup + spec.count;
  const app = appBuffer(size);
  const t = timer();
  let sent = 0;
  let acked = 0;
  const send = (): void => {
    while (sent < total && sent - acked < window) {
      if (kind === 'clone') {
        stamp(app.u32, 0, size, sent);
        port.postMessage(app.u8);
      } else {
        const b = new ArrayBuffer(size);
        new Uint8Array(b).set(app.u8);
        stamp(new Uint32Array(b), 0, size, sent);
        port.postMessage(b, [b]);
      }
      sent++;
    }
  };
  return new Promise((resolve) => {
    port.on('message', (n: number) => {
      acked = n;
      if (!t.marked && acked >= spec.warmup) t.mark(acked);
      if (acked >= total) {
        port.close();
        resolve(report('sender', t.done(acked), acked));
      } else send();
    });
    if (spec.warmup === 0) t.mark(0);
    send();
  });
}

function receiver(kind: Kind, port: MessagePort, spec: TrialSpec): Promise<SideReport> {
  const { size } = spec;
  const total = spec.warmup + spec.count;
  const ackEvery = Math.max(1, Math.floor(spec.window / 4));
  const t = timer();
  let received = 0;
  const verifier = kind === 'transfer' ? new MessageVerifier(size) : undefined;
  return new Promise((resolve, reject) => {
    port.on('message', (d: Uint8Array | ArrayBuffer) => {
      const ok =
        verifier !== undefined
          ? verifier.check(new Uint8Array(d as ArrayBuffer), received)
          : (d as Uint8Array).length === size && checkStamp(new Uint32Array((d as Uint8Array).buffer, (d as Uint8Array).byteOffset, size >>> 2), 0, size, received);
      if (!ok) {
        reject(verifyFailed('postMessage-' + kind, received));
        return;
      }
      received++;
      if (!t.marked && received >= spec.warmup) t.mark(received);
      if (received % ackEvery === 0 || received === total) port.postMessage(received);
      if (received === total) {
        const r = t.done(received);
        setImmediate(() => {
          port.close();
          resolve(report('receiver', r, received));
        });
      }
    });
    if (spec.warmup === 0) t.mark(0);
  });
}

function rttClient(kind: Kind, port: MessagePort, spec: TrialSpec): Promise<SideReport> {
  const { size } = spec;
  const total = spec.warmup + spec.count;
  const app = appBuffer(size);
  const samples = new Float64Array(spec.count);
  const tm = timer();
  let seq = 0;
  let t = 0;
  const ping = (): void => {
    t = performance.now();
    if (kind === 'clone') {
      stamp(app.u32, 0, size, seq);
      port.postMessage(app.u8);
    } else {
      const b = new ArrayBuffer(size);
      stamp(new Uint32Array(b), 0, size, seq);
      port.postMessage(b, [b]);
    }
  };
  return new Promise((resolve, reject) => {
    port.on('message', (d: Uint8Array | ArrayBuffer) => {
      const now = performance.now();
      const u32 = d instanceof ArrayBuffer ? new Uint32Array(d) : new Uint32Array(d.buffer, d.byteOffset, size >>> 2);
      if (!checkStamp(u32, 0, size, seq)) {
        reject(verifyFailed('postMessage-' + kind, seq, 'echo'));
        return;
      }
      if (seq >= spec.warmup) samples[seq - spec.warmup] = (now - t) * 1e6;
      seq++;
      if (seq === spec.warmup) tm.mark(0);
      if (seq === total) {
        port.close();
        resolve(report('client', tm.done(spec.count), total, undefined, samples));
      } else ping();
    });
    if (spec.warmup === 0) tm.mark(0);
    ping();
  });
}

function rttServer(kind: Kind, port: MessagePort, spec: TrialSpec): Promise<SideReport> {
  const total = spec.warmup + spec.count;
  const tm = timer();
  let n = 0;
  return new Promise((resolve) => {
    tm.mark(0);
    port.on('message', (d: Uint8Array | ArrayBuffer) => {
      if (d instanceof ArrayBuffer) port.postMessage(d, [d]);
      else port.postMessage(d);
      if (++n === total) {
        setImmediate(() => {
          port.close();
          resolve(report('server', tm.done(n), n));
        });
      }
    });
  });
}

function make(kind: Kind): Contender {
  return {
    name: `postMessage-${kind}`,
    description: kind === 'clone' ? 'MessagePort.postMessage of a Uint8Array (structured clone)' : 'MessagePort.postMessage of a fresh ArrayBuffer, transferred',
    throughputModes: ['n/a'],
    rttPolicies: ['event-loop'],
    maxSize: () => Number.POSITIVE_INFINITY,
    setup(spec) {
      const { port1, port2 } = new MessageChannel();
      const [a, b] = spec.experiment === 'rtt' ? ['client', 'server'] : ['sender', 'receiver'];
      return { shared: {}, roles: [a!, b!], perRole: { [a!]: { data: { port: port1 }, transfer: [port1] }, [b!]: { data: { port: port2 }, transfer: [port2] } } };
    },
    createRole(role, spec, shared): RoleInstance {
      const port = shared['port'] as MessagePort;
      const f = role === 'sender' ? sender : role === 'receiver' ? receiver : role === 'client' ? rttClient : rttServer;
      return { run: () => f(kind, port, spec) };
    },
  };
}

export const contenders: readonly Contender[] = [make('clone'), make('transfer')];
