/**
 * The echo remote's message handler, as a factory: the service (./echo.ts) and the JIT warm-up (./warmup.ts) build
 * their handlers from this one function literal, so V8's feedback and optimised code for it (shared by every closure
 * of one literal) are already hot when the service's first real message arrives.
 *
 * The handler echoes a message to its sender at once when nothing waits before it, else queues a copy (the received
 * buffer goes back to the host when the handler returns); the shutdown word 0xEF56A55A ends the service.
 */
import type { Endpoint, RpmsgMessage } from '../rpmsg/index.js';
import { OPENAMP_SHUTDOWN_WORD } from './layout.js';

/** What the handler updates. */
export interface EchoState {
  /** Messages echoed so far. */
  echoed: number;
  /** Set when the shutdown word arrived. */
  shutdown: boolean;
  /** Echoes waiting for a TX buffer, in order. */
  readonly backlog: { dst: number; data: Uint8Array }[];
}

export function newEchoState(): EchoState {
  return { echoed: 0, shutdown: false, backlog: [] };
}

/** The onMessage of an echo endpoint over `st`. */
export function echoHandler(st: EchoState): (m: RpmsgMessage, e: Endpoint) => void {
  return (m, e) => {
    const d = m.data;
    if (d.length >= 4 && (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 === OPENAMP_SHUTDOWN_WORD) {
      st.shutdown = true;
      return;
    }
    // Echo to the sender (the endpoint bound to it on the first message, as OpenAMP does).
    if (st.backlog.length === 0 && e.trySendTo(m.src, d)) st.echoed++;
    else st.backlog.push({ dst: m.src, data: d.slice() });
  };
}

/** Sends the queued echoes while TX buffers last; returns how many are still waiting. */
export function flushEchoes(st: EchoState, ep: Endpoint): number {
  const b = st.backlog;
  while (b.length > 0 && !ep.destroyed) {
    const x = b[0]!;
    if (!ep.trySendTo(x.dst, x.data)) break;
    b.shift();
    st.echoed++;
  }
  return b.length;
}
