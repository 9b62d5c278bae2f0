/**
 * Ring tracing without touching the virtio layer: when this thread traces, a queue's add/popUsed (driver) or
 * pop/pushUsed (device) methods are replaced on that one instance by recording wrappers; the queue keeps its class,
 * its type and every other member, and an untraced run has no wrapper at all.
 *   driver:  add → VQ_ADD (buffer id, in flight), popUsed → VQ_RETIRE
 *   device:  pop → VQ_POP (buffer id, still pending), pushUsed → VQ_USED (bytes written)
 */
import type { DescriptorChain } from '../virtio/chain.js';
import type { Segment, VirtqueueDevice, VirtqueueDriver } from '../virtio/virtqueue.js';
import { tracer } from './active.js';
import { TraceKind } from './events.js';

/** The same queue; when this thread traces, its operations also record on trace track `track`. */
export function traceDriverQueue<T, Q extends VirtqueueDriver<T>>(q: Q, track: number): Q {
  if (!tracer.enabled) return q;
  const ids = new Map<T, number>();
  const add = q.add.bind(q);
  const addBuffer = q.addBuffer.bind(q);
  const popUsed = q.popUsed.bind(q);
  const reset = q.reset.bind(q);
  const added = (id: number, token: T): number => {
    ids.set(token, id);
    tracer.emit(TraceKind.VQ_ADD, track, id, ids.size);
    return id;
  };
  q.add = (out: readonly Segment[], inn: readonly Segment[], token: T) => added(add(out, inn, token), token);
  q.addBuffer = (addr: number, len: number, writable: boolean, token: T) => added(addBuffer(addr, len, writable, token), token);
  q.popUsed = () => {
    const t = popUsed();
    if (t !== undefined) {
      const id = ids.get(t);
      ids.delete(t);
      tracer.emit(TraceKind.VQ_RETIRE, track, id ?? -1, ids.size);
    }
    return t;
  };
  q.reset = () => {
    ids.clear();
    return reset();
  };
  return q;
}

export function traceDeviceQueue<Q extends VirtqueueDevice>(q: Q, track: number): Q {
  if (!tracer.enabled) return q;
  const pop = q.pop.bind(q);
  const pushUsed = q.pushUsed.bind(q);
  q.pop = (out: DescriptorChain) => {
    const ok = pop(out);
    if (ok) tracer.emit(TraceKind.VQ_POP, track, out.head, q.pending());
    return ok;
  };
  q.pushUsed = (id: number, writtenLen: number) => {
    pushUsed(id, writtenLen);
    tracer.emit(TraceKind.VQ_USED, track, id, writtenLen);
  };
  return q;
}
