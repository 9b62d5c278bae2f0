/**
 * `tz-virtio openamp host`: the behaviour of OpenAMP's rpmsg-echo-ping host (legacy_apps/examples/echo/rpmsg-ping.c).
 * It creates the service endpoint, waits until the remote's announcement binds it, then sends payloads of growing
 * size and checks each echo; at the end it destroys the endpoint (name-service DESTROY), which ends the remote.
 *
 * Payload, as the C demo lays it out on a 64-bit Linux machine: { u64 num, u64 size, u8 data[size] = 0xA5 },
 * little-endian; sizes 1 .. (maximum payload - 16) (480 with 512-byte buffers).
 */
import type { Endpoint } from '../rpmsg/index.js';
import { RPMSG_ADDR_ANY } from '../rpmsg/constants.js';
import { OPENAMP_ECHO_SERVICE } from './layout.js';
import type { OpenAmpSession } from './session.js';
import { OpenAmpError, OpenAmpErrorCode } from './errors.js';
import { DEFAULT_WARMUP_MESSAGES, warmUpRpmsg } from './warmup.js';

export interface PingHostOptions {
  readonly service?: string;
  /** Number of payloads; default (and maximum) maxPayload - 16. */
  readonly count?: number;
  /** How long to wait for the remote's announcement and for each echo, ms. Default 15000. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
  /** Messages of the JIT warm-up run before the endpoint is created (./warmup.ts); default 30000, 0 = none. */
  readonly warmup?: number;
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
  readonly errors: number;
}

export const PING_HEADER = 16;
const MARK = 0xa5;

/** Waits until `ep` is bound to the remote's address (its NS announcement or first message). */
export async function waitBound(session: OpenAmpSession, ep: Endpoint, timeoutMs: number): Promise<void> {
  const r = await session.until(() => ep.dst !== RPMSG_ADDR_ANY, { timeoutMs, starved: () => true });
  if (r === 'done') return;
  if (r === 'peer-gone') throw new OpenAmpError(OpenAmpErrorCode.PEER_GONE, 'the remote closed the socket before announcing the service');
  throw new OpenAmpError(OpenAmpErrorCode.TIMEOUT, `the remote did not announce "${ep.name ?? ''}" within ${timeoutMs} ms`);
}

export async function runPingHost(session: OpenAmpSession, o: PingHostOptions = {}): Promise<PingResult> {
  const log = o.log ?? ((): void => undefined);
  const timeoutMs = o.timeoutMs ?? 15_000;
  const rpmsg = session.rpmsg;
  // Before the endpoint exists, so the first ping already meets optimised code.
  warmUpRpmsg(o.warmup ?? DEFAULT_WARMUP_MESSAGES);
  let received = 0;
  let errors = 0;
  let expectNum = 0;
  const ep = rpmsg.createEndpoint({
    name: o.service ?? OPENAMP_ECHO_SERVICE,
    onMessage: (m) => {
      const d = m.data;
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      if (d.length < PING_HEADER) errors++;
      else {
        const num = v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
        const size = v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32;
        if (size === 0 || size + PING_HEADER !== d.length || num !== expectNum) errors++;
        else for (let i = PING_HEADER; i < d.length; i++) if (d[i] !== MARK) { errors++; break; }
      }
      expectNum++;
      received++;
    },
  });
  await waitBound(session, ep, timeoutMs);
  log(`ping: bound to remote 0x${ep.dst.toString(16)}`);
  const max = rpmsg.maxPayload - PING_HEADER;
  const count = Math.min(o.count ?? max, max);
  const buf = new Uint8Array(rpmsg.maxPayload);
  const v = new DataView(buf.buffer);
  let sent = 0;
  for (let i = 0; i < count && errors === 0; i++) {
    const size = i + 1;
    v.setUint32(0, i, true);
    v.setUint32(4, 0, true);
    v.setUint32(8, size, true);
    v.setUint32(12, 0, true);
    buf.fill(MARK, PING_HEADER, PING_HEADER + size);
    await session.send(ep, buf.subarray(0, PING_HEADER + size), { timeoutMs });
    sent++;
    const r = await session.until(() => received >= sent, { timeoutMs });
    if (r === 'peer-gone') throw new OpenAmpError(OpenAmpErrorCode.PEER_GONE, `the remote closed the socket before echoing payload ${i}`);
    if (r !== 'done') throw new OpenAmpError(OpenAmpErrorCode.TIMEOUT, `no echo of payload ${i} within ${timeoutMs} ms`);
  }
  log(`ping: ${received} echoes, ${errors} errors`);
  ep.destroy(); // name-service DESTROY: the echo remote exits
  await new Promise((r) => setImmediate(r));
  await session.close();
  return { sent, received, errors };
}
