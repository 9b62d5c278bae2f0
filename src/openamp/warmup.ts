/**
 * JIT warm-up of the RPMsg hot path before a session announces its endpoints. A freshly started Node process runs
 * its first thousands of messages in V8's interpreter and baseline tiers (4-7 µs per message where the optimised
 * code takes well under 1 µs: docs/openamp-interop.md), which a C peer never pays. So the session's roles run the
 * same code first on a private copy of the OpenAMP layout: an RpmsgHost and an RpmsgRemote over one
 * SharedArrayBuffer, in this thread, echoing `messages` messages in windows, exactly as the echo service and the
 * bench host send them (cork, trySend, poll, echo from the callback). Nothing of it touches the shared file or the
 * socket; it costs tens of milliseconds once per process.
 */
import { RpmsgHost, RpmsgRemote } from '../rpmsg/index.js';
import { RPMSG_ADDR_ANY } from '../rpmsg/constants.js';
import { OPENAMP_ECHO_SERVICE, OPENAMP_RSC_TABLE, OPENAMP_SHARED_BUF, OPENAMP_SHARED_BUF_SIZE, OPENAMP_SHM_SIZE, encodeOpenampResourceTable, fileMemory, openampLayout } from './layout.js';

/** Default messages of the warm-up (20-100 ms on the 2-core VMs this runs on, depending on their load). */
export const DEFAULT_WARMUP_MESSAGES = 10_000;

/** Echoes `messages` messages between a private host and remote; returns the echoes counted (= messages). */
export function warmUpRpmsg(messages = DEFAULT_WARMUP_MESSAGES, payload = 16, window = 64): number {
  if (!(Number.isInteger(messages) && messages >= 0)) throw new RangeError(`warm-up messages must be an integer >= 0, not ${messages}`);
  if (messages === 0) return 0;
  const memory = fileMemory(new SharedArrayBuffer(OPENAMP_SHM_SIZE));
  memory.write(OPENAMP_RSC_TABLE, encodeOpenampResourceTable());
  const none = { notify: (): void => undefined };
  const host = new RpmsgHost(memory, openampLayout(memory), { transport: none });
  const remote = new RpmsgRemote(memory, OPENAMP_RSC_TABLE, {
    transport: none,
    bufferWindow: { base: OPENAMP_SHARED_BUF, size: OPENAMP_SHARED_BUF_SIZE },
    consumedUsedLen: 'descriptor',
  });
  let echoes = 0;
  const hep = host.createEndpoint({ name: OPENAMP_ECHO_SERVICE, onMessage: () => void echoes++ });
  remote.createEndpoint({ name: OPENAMP_ECHO_SERVICE, onMessage: (m, e) => void e.trySendTo(m.src, m.data) });
  host.start({ kick: false });
  for (let i = 0; i < 100 && (hep.dst === RPMSG_ADDR_ANY || !remote.ready); i++) {
    remote.poll();
    host.poll();
  }
  if (hep.dst === RPMSG_ADDR_ANY) return 0;
  const msg = new Uint8Array(payload).fill(0x5a);
  let sent = 0;
  for (let guard = 0; echoes < messages && guard < messages * 4; guard++) {
    host.cork();
    while (sent < messages && sent - echoes < window && hep.trySend(msg)) sent++;
    host.uncork();
    remote.poll();
    host.poll();
  }
  hep.destroy();
  remote.poll();
  return echoes;
}
