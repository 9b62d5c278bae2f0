/**
 * `tz-virtio openamp remote`: the behaviour of OpenAMP's rpmsg-echo remote (legacy_apps/examples/echo/rpmsg-echo.c).
 * It creates the service endpoint (announced by name service), echoes every message back to its sender, and ends
 * when the host destroys the channel (name-service DESTROY) or sends the shutdown word 0xEF56A55A; on the way out it
 * destroys its endpoint (announcing DESTROY, as rpmsg_destroy_ept does) and closes the session.
 */
import type { RpmsgMessage } from '../rpmsg/index.js';
import { OPENAMP_ECHO_SERVICE, OPENAMP_SHUTDOWN_WORD } from './layout.js';
import type { OpenAmpSession } from './session.js';

export interface EchoRemoteOptions {
  /** Service name; default rpmsg-openamp-demo-channel. */
  readonly service?: string;
  /** Log lines (stderr in the CLI); default none. */
  readonly log?: (line: string) => void;
}

export interface EchoResult {
  readonly echoed: number;
  readonly reason: 'destroyed' | 'shutdown' | 'peer-gone';
}

/** Runs the echo service until the host ends it. */
export function runEchoRemote(session: OpenAmpSession, o: EchoRemoteOptions = {}): Promise<EchoResult> {
  const log = o.log ?? ((): void => undefined);
  const service = o.service ?? OPENAMP_ECHO_SERVICE;
  const rpmsg = session.rpmsg;
  let echoed = 0;
  return new Promise((resolve) => {
    let done = false;
    const finish = (reason: EchoResult['reason']): void => {
      if (done) return;
      done = true;
      log(`echo: ${reason}, ${echoed} messages echoed`);
      // rpmsg_destroy_ept announces DESTROY when the peer is still there.
      if (reason !== 'peer-gone') ep.destroy();
      // Give the kick for the DESTROY announcement a chance to leave, then stop.
      setImmediate(() => {
        void session.close().then(() => resolve({ echoed, reason }));
      });
    };
    const ep = rpmsg.createEndpoint({
      name: service,
      onMessage: (m: RpmsgMessage, e) => {
        const d = m.data;
        if (d.length >= 4 && (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 === OPENAMP_SHUTDOWN_WORD) {
          finish('shutdown');
          return;
        }
        // Echo to the sender (the endpoint bound to it on the first message, as OpenAMP does).
        if (e.trySendTo(m.src, d)) echoed++;
        else void e.sendTo(m.src, d.slice()).then(() => echoed++, () => undefined);
      },
      onUnbind: () => finish('destroyed'),
    });
    log(`echo: endpoint 0x${ep.addr.toString(16)} "${service}"`);
    session.kicks.onClose(() => finish('peer-gone'));
  });
}
