/**
 * Framing of vhost-user messages on a non-blocking AF_UNIX stream fd, with the descriptors that came with them.
 *
 *   state 'header': read exactly 12 bytes  ->  decode (bad header: typed error, the caller closes)
 *   state 'payload': read exactly `size` bytes  ->  one complete message
 *
 * Reading exactly the header and then exactly the payload (never more) matters for descriptors: the kernel delivers
 * SCM_RIGHTS with the first recvmsg that touches the bytes they were sent with (the header), and ends that read
 * there, so every fd received while a message is being read belongs to that message. A message may arrive in any
 * number of pieces.
 */
import type { VhostNative } from '../host/native-vhost.js';
import { VhostUserError, VhostUserErrorCode } from './errors.js';
import { decodeHeader, type MessageHeader, type VhostUserMessage } from './message.js';
import { HEADER_SIZE, MAX_FDS, MAX_PAYLOAD } from './protocol.js';

export type ReadResult = 'again' | 'eof';

export class MessageReader {
  private readonly hdr = new Uint8Array(HEADER_SIZE);
  private header: MessageHeader | undefined;
  private payload = new Uint8Array(0);
  private have = 0;
  private fds: number[] = [];

  constructor(
    private readonly native: VhostNative,
    private readonly fd: number,
    /** Header decoder: requests by default; a front-end passes one that accepts replies. */
    private readonly decode: (b: Uint8Array) => MessageHeader = decodeHeader,
  ) {}

  /**
   * Reads what the socket holds, calling `onMessage` for each complete message (at most `budget` of them, so one
   * busy peer cannot starve the event loop; the fd stays readable and the watcher calls again). Returns 'eof' when
   * the peer closed, else 'again'; stops early when `onMessage` returns false (the owner closed the fd). Throws VhostUserError on a framing error (the stream cannot be resynchronised).
   */
  read(onMessage: (m: VhostUserMessage) => boolean, budget = 64): ReadResult {
    for (let done = 0; done < budget; ) {
      const target = this.header === undefined ? this.hdr : this.payload;
      if (target.length > 0) {
        const r = this.native.recvMsg(this.fd, target.subarray(this.have), MAX_FDS);
        const n = r[0]!;
        for (let i = 2; i < r.length; i++) this.fds.push(r[i]!);
        if (r[1] === 1) throw new VhostUserError(VhostUserErrorCode.FDS_TRUNCATED, `more than ${MAX_FDS} descriptors in one message`);
        if (n === 0) return 'eof';
        if (n < 0) return 'again';
        this.have += n;
        if (this.have < target.length) continue;
      }
      if (this.header === undefined) {
        this.header = this.decode(this.hdr);
        if (this.header.size > MAX_PAYLOAD) throw new VhostUserError(VhostUserErrorCode.PAYLOAD_TOO_LARGE, `payload of ${this.header.size} bytes`);
        this.payload = new Uint8Array(this.header.size);
        this.have = 0;
        if (this.header.size > 0) continue;
      }
      const h = this.header;
      const m: VhostUserMessage = { request: h.request, flags: h.flags, size: h.size, payload: this.payload, fds: this.fds };
      this.header = undefined;
      this.fds = [];
      this.have = 0;
      done++;
      if (!onMessage(m)) return 'again';
    }
    return 'again';
  }

  /** Closes descriptors of a message that was never completed (on disconnect). */
  dispose(): void {
    for (const f of this.fds) this.native.closeFd(f);
    this.fds = [];
  }
}
