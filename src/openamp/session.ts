/**
 * One side of an OpenAMP Linux-machine pairing: the shared file mapped MAP_SHARED (bus address = file offset), the
 * kick socket, and an RPMsg role (src/rpmsg) over them. The role is poll-driven: every received kick (any number of
 * bytes) makes it rescan both vrings, and a role notification becomes one byte on the socket.
 *
 * Start-up, as OpenAMP's platform_info.c does it: the socket server writes the resource table at offset 0 and then
 * accepts; the client connects. Host: negotiate features (gfeatures = dfeatures & ours, kick), zero the vrings, post
 * the RX buffers, write DRIVER_OK and kick. Remote: poll the status byte until DRIVER_OK (every kick and every
 * millisecond), then attach.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { RpmsgHost, RpmsgRemote, type RpmsgCore, type NameServiceEvent } from '../rpmsg/index.js';
import { mapSharedFile } from '../host/shm.js';
import { KickSocket, type KickRole } from '../host/kick-socket.js';
import {
  OPENAMP_RSC_TABLE,
  OPENAMP_SHARED_BUF,
  OPENAMP_SHARED_BUF_SIZE,
  OPENAMP_SHM_PATH,
  OPENAMP_SHM_SIZE,
  OPENAMP_SOCKET_PATH,
  encodeOpenampResourceTable,
  fileMemory,
  openampLayout,
  type OpenAmpLayoutOptions,
} from './layout.js';
import { OpenAmpError, OpenAmpErrorCode } from './errors.js';
import { reportConsumedBufferLength } from './remote-used-len.js';

export type OpenAmpRole = 'host' | 'remote';

export interface OpenAmpSessionOptions extends OpenAmpLayoutOptions {
  readonly role: OpenAmpRole;
  /** Shared file; default /dev/shm/openamp.shm (OpenAMP's shm_open("openamp.shm")). */
  readonly shmPath?: string;
  /** File size; default 0x80000. */
  readonly shmSize?: number;
  /** Kick socket; default /tmp/openamp.event.0. */
  readonly socketPath?: string;
  /** Socket side; default: the remote serves (OpenAMP's proc 0), the host connects (proc 1). */
  readonly socketRole?: KickRole;
  /** The socket server writes OpenAMP's resource table at offset 0 before accepting. Default true. */
  readonly writeTable?: boolean;
  /** How long to wait for the peer to connect and for DRIVER_OK, ms. Default 15000. */
  readonly timeoutMs?: number;
  /** Called for name-service events no local endpoint is bound to. */
  readonly onNameService?: (ev: NameServiceEvent, role: RpmsgCore) => void;
}

export class OpenAmpSession {
  readonly role: OpenAmpRole;
  readonly rpmsg: RpmsgHost | RpmsgRemote;
  readonly memory: PhysicalMemory;
  readonly kicks: KickSocket;
  /** Set when the peer closed the socket. */
  peerGone = false;
  private statusTimer: ReturnType<typeof setInterval> | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private closed = false;
  private readonly pollStatus: boolean;

  private constructor(role: OpenAmpRole, rpmsg: RpmsgHost | RpmsgRemote, memory: PhysicalMemory, kicks: KickSocket, pollStatus: boolean) {
    this.role = role;
    this.rpmsg = rpmsg;
    this.memory = memory;
    this.kicks = kicks;
    kicks.onKick(() => this.poll());
    kicks.onClose(() => {
      this.peerGone = true;
      this.poll();
    });
    this.pollStatus = pollStatus;
    this.armStatusTimer();
  }

  /** Maps the file, connects the socket and starts the role (host: handshake done; remote: attaches on DRIVER_OK). */
  static async open(o: OpenAmpSessionOptions): Promise<OpenAmpSession> {
    if (o.role !== 'host' && o.role !== 'remote') throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `role must be host or remote, not ${String(o.role)}`);
    const shmPath = o.shmPath ?? OPENAMP_SHM_PATH;
    const size = o.shmSize ?? OPENAMP_SHM_SIZE;
    if (size < OPENAMP_SHARED_BUF + OPENAMP_SHARED_BUF_SIZE) {
      throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `shared file size 0x${size.toString(16)} is below the buffer pool's end 0x50000`);
    }
    const socketRole: KickRole = o.socketRole ?? (o.role === 'remote' ? 'server' : 'client');
    const sab = mapSharedFile(shmPath, { size });
    const memory = fileMemory(sab);
    if (socketRole === 'server' && (o.writeTable ?? true)) {
      // As platform_device_setup_resource_table: the table (status 0, gfeatures 0) at offset 0.
      memory.write(OPENAMP_RSC_TABLE, encodeOpenampResourceTable(o));
    }
    const kicks = await KickSocket.open({ path: o.socketPath ?? OPENAMP_SOCKET_PATH, role: socketRole, timeoutMs: o.timeoutMs ?? 15_000 });
    const transport = { notify: (): void => kicks.kick() };
    const common = {
      transport,
      ...(o.onNameService !== undefined ? { onNameService: o.onNameService } : {}),
    };
    let rpmsg: RpmsgHost | RpmsgRemote;
    try {
      const layout = openampLayout(memory, o);
      if (o.role === 'host') {
        rpmsg = new RpmsgHost(memory, layout, common);
      } else {
        rpmsg = new RpmsgRemote(memory, OPENAMP_RSC_TABLE, { ...common, bufferWindow: { base: OPENAMP_SHARED_BUF, size: OPENAMP_SHARED_BUF_SIZE } });
      }
    } catch (e) {
      await kicks.close();
      throw e;
    }
    const s = new OpenAmpSession(o.role, rpmsg, memory, kicks, o.role === 'remote');
    if (rpmsg instanceof RpmsgHost) {
      s.startHost();
    }
    return s;
  }

  /** Host handshake; endpoints created before it are announced when it completes. */
  private startHost(): void {
    const host = this.rpmsg as RpmsgHost;
    // OpenAMP's remote returns consumed TX buffers with used.len = buffer length (VIRTIO says 0: nothing written);
    // our split driver reports such a len as 0 and counts it (readOnlyLenIgnored), so no adaptation is needed here.
    host.start();
    // OpenAMP's set_features and set_status both notify with the vdev's notifyid; one kick covers both here, sent
    // after DRIVER_OK so that a remote waiting for kicks rescans the status byte.
    this.kicks.kick();
  }

  /** Rescans everything (kick received, status timer, or by hand). */
  poll(): number {
    if (this.closed) return 0;
    if (this.rpmsg instanceof RpmsgRemote && this.rpmsg.tryAttach()) {
      // Attach first, so that the adapter is on the queue before the first buffer is returned (remote-used-len.ts).
      reportConsumedBufferLength(this.rpmsg, this.memory);
    }
    const n = this.rpmsg.poll();
    if (this.rpmsg.ready) {
      if (this.statusTimer !== undefined) {
        clearInterval(this.statusTimer);
        this.statusTimer = undefined;
      }
      for (const w of this.readyWaiters.splice(0)) w();
    } else {
      this.armStatusTimer();
    }
    return n;
  }

  /**
   * While the remote is not attached it watches the status byte every millisecond (OpenAMP's remote sleeps 1 ms
   * between reads), besides rescanning on every kick; once attached, kicks alone drive it.
   */
  private armStatusTimer(): void {
    if (!this.pollStatus || this.statusTimer !== undefined || this.closed) return;
    this.statusTimer = setInterval(() => this.poll(), 1);
  }

  /** Resolves when the RPMsg device is ready (remote: host reached DRIVER_OK). */
  whenReady(timeoutMs = 15_000): Promise<void> {
    if (this.rpmsg.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new OpenAmpError(OpenAmpErrorCode.TIMEOUT, `the host did not set DRIVER_OK within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Notifies the peer explicitly (e.g. after a burst sent while corked). */
  kick(): void {
    this.kicks.kick();
  }

  /** Stops polling and closes the socket (the mapping goes with the last reference). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer);
    await this.kicks.close();
  }
}
