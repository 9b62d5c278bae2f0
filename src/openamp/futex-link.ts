/**
 * A futex doorbell between two tz-virtio processes of an OpenAMP pairing, beside the kick socket the C peers need.
 *
 * Both sides of the pairing map the same file; OpenAMP uses it up to 0x50000 (buffer pool end). The last page holds
 * one 64-byte slot per socket side (server = slot 0, client = slot 1), Int32 words:
 *
 *   0x7F000  slot 0 (socket server)      0x7F040  slot 1 (socket client)
 *   word 0 MAGIC 'TZVS'   1 NONCE (fresh, random, non-zero)   2 ECHO (the peer's NONCE, once seen)
 *        3 MODE (1: this side sleeps on its futex doorbell, 0: on the kick socket)
 *        4 SEQ  5 SLEEPERS  6 STAMP (the side's Doorbell, src/sync, woken through the shared futex)
 *
 * Linking: a side is sure its peer is a tz-virtio session when the peer's ECHO equals its own fresh NONCE. Stale
 * file content cannot fake that (a nonce is new per session), and a C peer never writes the block, so with a C peer
 * (or an event-loop session, which never links) both directions keep using socket kicks. The server zeroes the
 * block before accepting, as it writes the resource table.
 *
 * Notifying a linked peer: publish the work (the rings), add 1 to the peer's SEQ, then read the peer's MODE: 1 =
 * it sleeps on its doorbell, woken by a futex wake only when its SLEEPERS is non-zero (a busy peer costs no
 * syscall); 0 = send a socket kick. A side stores MODE = 1 before it reads the SEQ it will sleep on, so a notifier
 * that still read MODE = 0 published its work before that side looked for work (sequentially consistent atomics):
 * no notification is lost in the switch. A side writes ECHO before it can be linked, so when a side sleeps on its
 * futex, its peer's link check (made in every notify while unlinked) succeeds.
 */
import { Doorbell, stampNowUs, type FutexOps, type SleepResult } from '../sync/doorbell.js';
import { futexWait, futexWake } from '../host/futex.js';

/** Byte offset of the link block in the shared file (the file's last page; OpenAMP's layout ends at 0x50000). */
export const FUTEX_LINK_OFFSET = 0x7f000;
export const FUTEX_LINK_BYTES = 0x80;
const SLOT_WORDS = 16;
const MAGIC = 0x545a5653; // 'TZVS'
const W_MAGIC = 0;
const W_NONCE = 1;
const W_ECHO = 2;
const W_MODE = 3;
const W_SEQ = 4;
const W_SLEEPERS = 5;
const W_STAMP = 6;

/** The host layer's shared futex as the doorbell's FutexOps. */
export const SHARED_FUTEX: FutexOps = {
  wait(words: Int32Array, index: number, expected: number, timeoutMs: number): SleepResult {
    const r = futexWait(words, index, expected, timeoutMs);
    return r === 'interrupted' ? 'ok' : r;
  },
  wake(words: Int32Array, index: number): void {
    futexWake(words, index);
  },
};

export class FutexLink {
  /** This side's doorbell (it sleeps on it once linked) and the peer's (rung by notify()). */
  readonly bell: Doorbell;
  readonly peerBell: Doorbell;
  private readonly words: Int32Array;
  private readonly mine: number;
  private readonly theirs: number;
  private readonly nonce: number;
  /** The peer is a linked tz-virtio session: notify() goes through its doorbell. */
  peerLinked = false;
  /** This side sleeps on its doorbell (MODE = 1). */
  sleepsOnFutex = false;
  /** Notifications sent as futex wakes / skipped because the peer was awake / sent on the socket. */
  futexWakes = 0;
  ringsSkipped = 0;
  socketKicks = 0;

  /** `sab`: the mapped file; `slot`: 0 for the socket server, 1 for the client. */
  constructor(sab: SharedArrayBuffer, slot: 0 | 1, futex: FutexOps = SHARED_FUTEX) {
    this.words = new Int32Array(sab, FUTEX_LINK_OFFSET, FUTEX_LINK_BYTES / 4);
    this.mine = slot * SLOT_WORDS;
    this.theirs = (1 - slot) * SLOT_WORDS;
    this.bell = new Doorbell(this.words, this.mine + W_SEQ, this.mine + W_SLEEPERS, this.mine + W_STAMP, futex);
    this.peerBell = new Doorbell(this.words, this.theirs + W_SEQ, this.theirs + W_SLEEPERS, this.theirs + W_STAMP, futex);
    let n = 0;
    while (n === 0) n = (Math.random() * 0x100000000) | 0;
    this.nonce = n;
  }

  /** The socket server, before accepting: no slot content survives from an earlier session. */
  static reset(sab: SharedArrayBuffer): void {
    new Int32Array(sab, FUTEX_LINK_OFFSET, FUTEX_LINK_BYTES / 4).fill(0);
  }

  /** Publishes this side (after the socket connected, or before accepting). */
  announce(): void {
    const w = this.words;
    const m = this.mine;
    Atomics.store(w, m + W_MODE, 0);
    Atomics.store(w, m + W_ECHO, 0);
    Atomics.store(w, m + W_SLEEPERS, 0);
    Atomics.store(w, m + W_NONCE, this.nonce);
    Atomics.store(w, m + W_MAGIC, MAGIC);
  }

  /** Echoes the peer's nonce once seen; true when the peer echoed ours (it is a linked tz-virtio session). */
  tryLink(): boolean {
    if (this.peerLinked) return true;
    const w = this.words;
    const t = this.theirs;
    if (Atomics.load(w, t + W_MAGIC) !== MAGIC) return false;
    const theirNonce = Atomics.load(w, t + W_NONCE);
    if (theirNonce !== 0 && Atomics.load(w, this.mine + W_ECHO) !== theirNonce) Atomics.store(w, this.mine + W_ECHO, theirNonce);
    if (Atomics.load(w, t + W_ECHO) !== this.nonce) return false;
    this.peerLinked = true;
    return true;
  }

  /**
   * Called by the sleeping side before it reads the sequence number it will sleep on: switches it to its futex
   * doorbell once linked (for good). Returns whether it sleeps on the futex.
   */
  enterFutexMode(): boolean {
    if (this.sleepsOnFutex) return true;
    if (!this.tryLink()) return false;
    Atomics.store(this.words, this.mine + W_MODE, 1);
    this.sleepsOnFutex = true;
    return true;
  }

  /** Notifies the peer: through its doorbell when it sleeps on one, else `kick` (the socket). */
  notify(kick: () => void): void {
    if (!this.peerLinked && !this.tryLink()) {
      this.socketKicks++;
      kick();
      return;
    }
    const w = this.words;
    const t = this.theirs;
    Atomics.add(w, t + W_SEQ, 1);
    if (Atomics.load(w, t + W_MODE) === 1) {
      if (Atomics.load(w, t + W_SLEEPERS) !== 0) {
        this.futexWakes++;
        Atomics.store(w, t + W_STAMP, stampNowUs());
        this.peerBell.wakeAll();
      } else this.ringsSkipped++;
      return;
    }
    this.socketKicks++;
    kick();
  }

  /** Leaving: this side no longer answers; a peer asleep on its doorbell is woken to notice (call after the socket closed). */
  leave(): void {
    const w = this.words;
    Atomics.store(w, this.mine + W_MODE, 0);
    Atomics.store(w, this.mine + W_MAGIC, 0);
    if (this.peerLinked) {
      Atomics.add(w, this.theirs + W_SEQ, 1);
      this.peerBell.wakeAll();
    }
  }
}
