/**
 * A scripted vhost-user front-end for the unit tests: speaks the protocol over one end of a socketpair (the back-end
 * holds the other), with its own guest memory in a deleted /dev/shm file passed by fd, as Linux UML and QEMU do.
 */
import { closeSync } from 'node:fs';
import { createUnlinkedShmFile } from '../../src/host/shm.js';
import { loadVhostNative, type VhostNative } from '../../src/host/native-vhost.js';
import { MessageReader } from '../../src/vhost-user/channel.js';
import { encodeMessage, type MessageHeader, type VhostUserMessage } from '../../src/vhost-user/message.js';
import { HEADER_SIZE, VHOST_USER_VERSION } from '../../src/vhost-user/protocol.js';
import { PhysicalMemory } from '../../src/virtio/memory.js';

const replyHeader = (b: Uint8Array): MessageHeader => {
  const v = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  return { request: v.getUint32(0, true), flags: v.getUint32(4, true), size: v.getUint32(8, true) };
};

export class FakeFrontEnd {
  readonly native: VhostNative = loadVhostNative();
  readonly fd: number;
  readonly backendEnd: number;
  private readonly reader: MessageReader;
  private closed = false;

  constructor() {
    [this.fd, this.backendEnd] = this.native.socketPair();
    this.reader = new MessageReader(this.native, this.fd, replyHeader);
  }

  send(request: number, payload?: Uint8Array, fds: number[] = [], flags = VHOST_USER_VERSION): void {
    this.sendRaw(encodeMessage(request, flags, payload), fds);
  }

  sendRaw(bytes: Uint8Array, fds: number[] = []): void {
    this.native.sendMsg(this.fd, bytes, fds);
  }

  /** Waits for the next reply (or 'eof' when the back-end closed the connection); rejects after timeoutMs. */
  next(timeoutMs = 20_000): Promise<VhostUserMessage | 'eof'> {
    return new Promise((resolve, reject) => {
      let got: VhostUserMessage | 'eof' | undefined;
      const finish = () => {
        this.native.unwatchFd(id);
        clearTimeout(t);
        resolve(got!);
      };
      const id = this.native.watchFd(this.fd, () => {
        if (got !== undefined) return;
        const r = this.reader.read((m) => {
          got = m;
          return false;
        }, 1);
        if (got === undefined && r === 'eof') got = 'eof';
        if (got !== undefined) finish();
      });
      const t = setTimeout(() => {
        this.native.unwatchFd(id);
        reject(new Error('no reply from the back-end'));
      }, timeoutMs);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.closeFd(this.fd);
  }
}

/** Guest memory backed by a deleted file: `fd` goes into SET_MEM_TABLE, `memory` is the driver's view at `base`. */
export class GuestMemoryFile {
  readonly fd: number;
  readonly memory: PhysicalMemory;
  private readonly sab: SharedArrayBuffer;

  constructor(
    native: VhostNative,
    readonly base: number,
    readonly size: number,
  ) {
    this.fd = createUnlinkedShmFile(size, 'tz-vu-test');
    this.sab = native.mapFd(this.fd, 0, size);
    this.memory = new PhysicalMemory([{ name: 'guest', base, size, buffer: this.sab }]);
  }

  /** A duplicate-free fd to pass (sendMsg passes a copy; the back-end closes its own). */
  close(): void {
    closeSync(this.fd);
  }
}
