/**
 * Ring tracing as decorators: a transport that builds a virtqueue wraps it when the machine traces, so the
 * virtio layer stays free of any tracing code and an untraced run has no wrapper at all.
 *   driver:  add → VQ_ADD (buffer id, in flight), popUsed → VQ_RETIRE
 *   device:  pop → VQ_POP (buffer id, still pending), pushUsed → VQ_USED (bytes written)
 */
import type { DescriptorChain } from '../virtio/chain.js';
import type { VirtioError } from '../virtio/errors.js';
import type { Segment, VirtqueueDevice, VirtqueueDriver } from '../virtio/virtqueue.js';
import { tracer } from './active.js';
import { TraceKind } from './events.js';

class TracedDriverQueue<T> implements VirtqueueDriver<T> {
  private readonly ids = new Map<T, number>();
  constructor(
    private readonly q: VirtqueueDriver<T>,
    private readonly track: number,
  ) {}
  get size(): number {
    return this.q.size;
  }
  get numFree(): number {
    return this.q.numFree;
  }
  get lastUsedLen(): number {
    return this.q.lastUsedLen;
  }
  private added(id: number, token: T): number {
    this.ids.set(token, id);
    tracer.emit(TraceKind.VQ_ADD, this.track, id, this.ids.size);
    return id;
  }
  add(out: readonly Segment[], inn: readonly Segment[], token: T): number {
    return this.added(this.q.add(out, inn, token), token);
  }
  addBuffer(addr: number, len: number, writable: boolean, token: T): number {
    return this.added(this.q.addBuffer(addr, len, writable, token), token);
  }
  kick(): boolean {
    return this.q.kick();
  }
  hasUsed(): boolean {
    return this.q.hasUsed();
  }
  popUsed(): T | undefined {
    const t = this.q.popUsed();
    if (t !== undefined) {
      const id = this.ids.get(t);
      this.ids.delete(t);
      tracer.emit(TraceKind.VQ_RETIRE, this.track, id ?? -1, this.ids.size);
    }
    return t;
  }
  disableCallbacks(): void {
    this.q.disableCallbacks();
  }
  enableCallbacks(): boolean {
    return this.q.enableCallbacks();
  }
  reset(): T[] {
    this.ids.clear();
    return this.q.reset();
  }
}

class TracedDeviceQueue implements VirtqueueDevice {
  constructor(
    private readonly q: VirtqueueDevice,
    private readonly track: number,
  ) {}
  get size(): number {
    return this.q.size;
  }
  get broken(): VirtioError | undefined {
    return this.q.broken;
  }
  pop(out: DescriptorChain): boolean {
    const ok = this.q.pop(out);
    if (ok) tracer.emit(TraceKind.VQ_POP, this.track, out.head, this.q.pending());
    return ok;
  }
  pending(): number {
    return this.q.pending();
  }
  pushUsed(id: number, writtenLen: number): void {
    this.q.pushUsed(id, writtenLen);
    tracer.emit(TraceKind.VQ_USED, this.track, id, writtenLen);
  }
  publishUsed(): boolean {
    return this.q.publishUsed();
  }
  disableNotifications(): void {
    this.q.disableNotifications();
  }
  enableNotifications(): boolean {
    return this.q.enableNotifications();
  }
  reset(): void {
    this.q.reset();
  }
}

/** The queue itself when this thread does not trace, else a tracing decorator on `track`. */
export function traceDriverQueue<T>(q: VirtqueueDriver<T>, track: number): VirtqueueDriver<T> {
  return tracer.enabled ? new TracedDriverQueue(q, track) : q;
}

export function traceDeviceQueue(q: VirtqueueDevice, track: number): VirtqueueDevice {
  return tracer.enabled ? new TracedDeviceQueue(q, track) : q;
}
