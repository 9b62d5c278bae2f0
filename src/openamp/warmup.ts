/**
 * JIT warm-up of the RPMsg hot path before a session announces its endpoints. A freshly started Node process runs
 * its first thousands of messages in V8's interpreter and baseline tiers: over one private host/remote pair, 16 B
 * echoes cost 3-15 µs per message for the first ~8000 and settle at ~0.27 µs after 10000-20000 (measured in 2000-
 * message slices on the 2-core VMs this runs on), which a C peer never pays. So both `openamp host` and
 * `openamp remote` (and the bench's host) first run the same code on a private copy of the OpenAMP layout: an
 * RpmsgHost and an RpmsgRemote over one SharedArrayBuffer, in this thread, echoing `messages` messages in windows
 * of 64, as the echo service and the bench host send them (cork, trySend, uncork, poll; the remote echoes from its
 * callback). The remote's callback is built by the echo service's own factory (./echo-handler.ts), so the service's
 * handler is optimised too. Payload sizes cycle through the small and the largest ones and the ping host's growing
 * sizes, so both directions' copies of every size class run. Nothing of it touches the shared file or the socket;
 * it costs 30-100 ms once per process.
 */
import { RpmsgHost, RpmsgRemote } from '../rpmsg/index.js';
import { RPMSG_ADDR_ANY } from '../rpmsg/constants.js';
import { OPENAMP_ECHO_SERVICE, OPENAMP_RSC_TABLE, OPENAMP_SHARED_BUF, OPENAMP_SHARED_BUF_SIZE, OPENAMP_SHM_SIZE, encodeOpenampResourceTable, fileMemory, openampLayout } from './layout.js';
import { echoHandler, flushEchoes, newEchoState } from './echo-handler.js';
import { OpenAmpError, OpenAmpErrorCode } from './errors.js';

/** Default messages of the warm-up: past the 10000-20000 a fresh process needs to reach optimised code. */
export const DEFAULT_WARMUP_MESSAGES = 30_000;
/** Most messages a warm-up may be asked for. */
export const MAX_WARMUP_MESSAGES = 1_000_000;
const WINDOW = 64;

/** Echoes `messages` messages between a private host and remote; returns the echoes counted (= messages). */
export function warmUpRpmsg(messages = DEFAULT_WARMUP_MESSAGES): number {
  if (!(Number.isInteger(messages) && messages >= 0 && messages <= MAX_WARMUP_MESSAGES)) {
    throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `warm-up messages must be an integer 0..${MAX_WARMUP_MESSAGES}, not ${messages}`);
  }
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
  const st = newEchoState();
  const rep = remote.createEndpoint({ name: OPENAMP_ECHO_SERVICE, onMessage: echoHandler(st) });
  host.start({ kick: false });
  for (let i = 0; i < 100 && (hep.dst === RPMSG_ADDR_ANY || !remote.ready); i++) {
    remote.poll();
    host.poll();
  }
  if (hep.dst === RPMSG_ADDR_ANY) return 0;
  const max = host.maxPayload;
  // 16 B (the bench's small size), the largest payload, and 17..max as the ping host's growing sizes
  const buf = new Uint8Array(max).fill(0x5a);
  let sent = 0;
  let ping = 0;
  for (let guard = 0; echoes < messages && guard < messages * 4; guard++) {
    host.cork();
    while (sent < messages && sent - echoes < WINDOW) {
      const k = sent % 8;
      const size = k < 5 ? 16 : k < 7 ? max : 17 + (ping++ % (max - 16));
      if (!hep.trySend(buf.subarray(0, size))) break;
      sent++;
    }
    host.uncork();
    remote.poll();
    if (st.backlog.length > 0) flushEchoes(st, rep);
    host.poll();
  }
  hep.destroy();
  remote.poll();
  return echoes;
}
