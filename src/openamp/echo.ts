/**
 * `tz-virtio openamp remote`: the behaviour of OpenAMP's rpmsg-echo remote (legacy_apps/examples/echo/rpmsg-echo.c).
 * It creates the service endpoint (announced by name service), echoes every message back to its sender, and ends
 * when the host destroys the channel (name-service DESTROY) or sends the shutdown word 0xEF56A55A; on the way out it
 * destroys its endpoint (announcing DESTROY, as rpmsg_destroy_ept does) and closes the session.
 */
import type { RpmsgMessage } from '../rpmsg/index.js';
import { OPENAMP_ECHO_SERVICE, OPENAMP_SHUTDOWN_WORD } from './layout.js';
import type { OpenAmpSession } from './session.js';
import { DEFAULT_WARMUP_MESSAGES, warmUpRpmsg } from './warmup.js';

export interface EchoRemoteOptions {
  /** Service name; default rpmsg-openamp-demo-channel. */
  readonly service?: string;
  /** Log lines (stderr in the CLI); default none. */
  readonly log?: (line: string) => void;
  /** Messages of the JIT warm-up run before the service is announced (./warmup.ts); default 10000, 0 = none. */
  readonly warmup?: number;
}

export interface EchoResult {
  readonly echoed: number;
  readonly reason: 'destroyed' | 'shutdown' | 'peer-gone';
}

/**
 * Runs the echo service until the host ends it. On the native kick path the whole service loop runs synchronously
 * (session.until); echoes that find no free buffer wait in a queue, in order, until the host posts more.
 */
export async function runEchoRemote(session: OpenAmpSession, o: EchoRemoteOptions = {}): Promise<EchoResult> {
  const log = o.log ?? ((): void => undefined);
  const service = o.service ?? OPENAMP_ECHO_SERVICE;
  const rpmsg = session.rpmsg;
  // Before the endpoint is announced, so the host's first message already meets optimised code.
  warmUpRpmsg(o.warmup ?? DEFAULT_WARMUP_MESSAGES);
  let echoed = 0;
  let reason: EchoResult['reason'] | undefined;
  /** Echoes waiting for a TX buffer (copies: the received buffer goes back to the host). */
  const backlog: { dst: number; data: Uint8Array }[] = [];
  const flush = (): void => {
    while (backlog.length > 0 && !ep.destroyed) {
      const b = backlog[0]!;
      if (!ep.trySendTo(b.dst, b.data)) return;
      backlog.shift();
      echoed++;
    }
  };
  const ep = rpmsg.createEndpoint({
    name: service,
    onMessage: (m: RpmsgMessage, e) => {
      const d = m.data;
      if (d.length >= 4 && (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 === OPENAMP_SHUTDOWN_WORD) {
        reason ??= 'shutdown';
        return;
      }
      // Echo to the sender (the endpoint bound to it on the first message, as OpenAMP does).
      if (backlog.length === 0 && e.trySendTo(m.src, d)) echoed++;
      else backlog.push({ dst: m.src, data: m.copy() });
    },
    onUnbind: () => {
      reason ??= 'destroyed';
    },
  });
  log(`echo: endpoint 0x${ep.addr.toString(16)} "${service}" (${session.kickPath} kicks)`);
  const r = await session.until(
    () => {
      flush();
      return reason !== undefined;
    },
    { timeoutMs: Infinity, starved: () => backlog.length > 0 },
  );
  if (reason === undefined) reason = 'peer-gone';
  log(`echo: ${reason}, ${echoed} messages echoed${r === 'closed' ? ' (session closed)' : ''}`);
  // rpmsg_destroy_ept announces DESTROY when the peer is still there.
  if (reason !== 'peer-gone' && !session.peerGone) ep.destroy();
  // Give the kick for the DESTROY announcement a chance to leave (event-loop path), then stop.
  await new Promise((res) => setImmediate(res));
  await session.close();
  return { echoed, reason };
}
