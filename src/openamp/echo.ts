/**
 * `tz-virtio openamp remote`: the behaviour of OpenAMP's rpmsg-echo remote (legacy_apps/examples/echo/rpmsg-echo.c).
 * It creates the service endpoint (announced by name service), echoes every message back to its sender, and ends
 * when the host destroys the channel (name-service DESTROY) or sends the shutdown word 0xEF56A55A; on the way out it
 * destroys its endpoint (announcing DESTROY, as rpmsg_destroy_ept does) and closes the session.
 */
import { OPENAMP_ECHO_SERVICE } from './layout.js';
import { echoHandler, flushEchoes, newEchoState } from './echo-handler.js';
import type { OpenAmpSession } from './session.js';
import { DEFAULT_WARMUP_MESSAGES, warmUpRpmsg } from './warmup.js';

export interface EchoRemoteOptions {
  /** Service name; default rpmsg-openamp-demo-channel. */
  readonly service?: string;
  /** Log lines (stderr in the CLI); default none. */
  readonly log?: (line: string) => void;
  /** Messages of the JIT warm-up run before the service is announced (./warmup.ts); default 30000, 0 = none. */
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
  const st = newEchoState();
  let destroyed = false;
  const ep = rpmsg.createEndpoint({
    name: service,
    // As OpenAMP's rpmsg_create_ept: announce even when the host announced the same name first (its NS message may
    // have been read already, e.g. during a warm-up); the host learns our address from the announcement.
    ...(rpmsg.ready && rpmsg.nameService ? { announce: true } : {}),
    onMessage: echoHandler(st),
    onUnbind: () => {
      destroyed = true;
    },
  });
  log(`echo: endpoint 0x${ep.addr.toString(16)} "${service}" (${session.kickPath} kicks)`);
  const r = await session.until(
    () => {
      if (st.backlog.length > 0) flushEchoes(st, ep);
      return st.shutdown || destroyed;
    },
    { timeoutMs: Infinity, starved: () => st.backlog.length > 0 },
  );
  // a shutdown word counts before a DESTROY that arrived with it
  const reason: EchoResult['reason'] = st.shutdown ? 'shutdown' : destroyed ? 'destroyed' : 'peer-gone';
  const echoed = st.echoed;
  log(`echo: ${reason}, ${echoed} messages echoed${r === 'closed' ? ' (session closed)' : ''}`);
  // rpmsg_destroy_ept announces DESTROY when the peer is still there.
  if (reason !== 'peer-gone' && !session.peerGone) ep.destroy();
  // Give the kick for the DESTROY announcement a chance to leave (event-loop path), then stop.
  await new Promise((res) => setImmediate(res));
  await session.close();
  return { echoed, reason };
}
