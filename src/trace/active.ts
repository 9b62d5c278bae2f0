/**
 * The tracer of this thread. Every thread (partition worker, hypervisor) has one; it records nothing until the
 * machine hands the thread its trace buffer (installTracer), so instrumented code calls `tracer.emit(…)` without
 * plumbing and, with tracing off, pays one predictable branch.
 */
import { TraceWriter } from './buffer.js';

export let tracer: TraceWriter = new TraceWriter();

export function installTracer(sab: SharedArrayBuffer | undefined): void {
  tracer = new TraceWriter(sab);
}
