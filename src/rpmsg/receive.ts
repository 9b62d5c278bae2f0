/**
 * The RPMsg receive engine, one for both roles: take every received buffer, validate its header, dispatch it to its
 * endpoint, give the buffer back to the ring unless the callback held it, publish the returns in batches.
 *
 *   role            receive ring                      takes with          gives back with
 *   host (driver)   vring0, the remote's used ring    popUsed (used.len)  addBuffer (re-post, avail ring)
 *   remote (device) vring1, the host's avail ring     pop (chain)         pushUsed (used ring, len 0)
 *
 * A role supplies only the ring plumbing through the rx* hooks; the loop, the header checks, notification
 * suppression and the handling of callback exceptions live here once.
 *
 * Per buffer, rxTake() reports where the message lies: `rxRegion` (undefined when the buffer's shape is already
 * wrong), `rxOff` (its offset in that region) and `rxLimit` (bytes the message may occupy, header included: the host's
 * used.len, the remote's descriptor length). The engine then reads each header field exactly once (the peer may
 * rewrite it meanwhile) and requires 16 + len <= rxLimit (Linux rpmsg_recv_single); anything else is dropped and
 * counted in stats.droppedMalformed, and the buffer still goes back to the ring.
 */
import type { MemoryRegion } from '../virtio/memory.js';
import { isVirtioError } from '../virtio/errors.js';
import { RpmsgCore } from './core.js';
import type { Endpoint } from './endpoint.js';
import type { RxMessage } from './buffers.js';
import { RPMSG_HEADER_SIZE } from './constants.js';

export abstract class RpmsgReceiver extends RpmsgCore {
  /** Bumped whenever the rings are set up or forgotten: buffers and messages of an older generation are stale. */
  protected generation = 0;
  /** Whether RX notifications are wanted (armRx/disarmRx), re-applied to new rings. */
  protected rxArmed = true;
  /** Returned buffers are published at least every this many messages within one poll (and at its end). */
  protected rxBatch = 1;
  /** One message object per receive-ring buffer, indexed by what rxTake() returns. */
  protected rx: RxMessage[] = [];
  /** Set by rxTake() for the buffer it returned (see the file comment). */
  protected rxRegion: MemoryRegion | undefined = undefined;
  protected rxOff = 0;
  protected rxLimit = 0;

  /** Takes the next received buffer: its index in `rx`, or -1 when none is pending. Sets rxRegion/rxOff/rxLimit. */
  protected abstract rxTake(): number;
  /** Gives buffer `index` back to the ring, unpublished; `len` = the message's rxLimit when it was well-formed, else 0. */
  protected abstract rxGiveBack(index: number, len: number): void;
  /** Publishes the buffers given back, notifying the peer when its ring asks for it. */
  protected abstract rxPublish(): void;
  /** Asks the peer not to notify us per message (a burst is being drained). */
  protected abstract rxQuiet(): void;
  /** Asks for notifications again; false when buffers arrived meanwhile (take them before sleeping). */
  protected abstract rxRearm(): boolean;
  /** The peer broke a VirtIO rule: stop, needs-reset. */
  protected abstract fail(e: unknown): void;

  /**
   * Receives every pending buffer. One try covers the whole batch: `cur` is set only while an endpoint callback
   * runs, so a throw with `cur` set is the callback's (counted, the batch goes on), any other is the ring's
   * (VirtioError: needs-reset; anything else is a bug and propagates).
   */
  protected drainRx(): number {
    const gen = this.generation;
    const msgs = this.rx;
    let n = 0;
    let unpublished = 0;
    let cur: RxMessage | undefined;
    let curEp: Endpoint | undefined;
    /** Messages taken since notifications were last (re-)enabled, and whether this poll turned them off. */
    let run = 0;
    let suppressed = false;
    for (;;) {
      try {
        for (;;) {
          const i = this.rxTake();
          if (i < 0) {
            // Notifications back on (if we turned them off) and a last look: a message published meanwhile was
            // not notified, so it must be taken now (no lost wake-up for a caller that sleeps after poll()).
            if (suppressed) {
              suppressed = false;
              run = 0;
              if (this.rxArmed && !this.rxRearm()) continue;
            }
            break;
          }
          n++;
          if (++run === 2 && this.rxArmed) {
            // A burst: stop asking for a notification per message until the end of this poll (Linux NAPI).
            this.rxQuiet();
            suppressed = true;
          }
          const r = this.rxRegion;
          const limit = this.rxLimit;
          const m = msgs[i];
          let ok = r !== undefined && m !== undefined;
          if (ok) {
            const off = this.rxOff;
            let word3: number;
            if ((off & 3) === 0) {
              const u32 = r!.u32;
              const w = off >>> 2;
              m!.src = u32[w]!;
              m!.dst = u32[w + 1]!;
              word3 = u32[w + 3]!;
            } else {
              const v = r!.view;
              m!.src = v.getUint32(off, true);
              m!.dst = v.getUint32(off + 4, true);
              word3 = v.getUint32(off + 12, true);
            }
            // word3 = len u16 @12 | flags u16 @14 (little-endian).
            const len = word3 & 0xffff;
            if (len > limit - RPMSG_HEADER_SIZE) ok = false;
            else {
              m!.len = len;
              m!.flags = word3 >>> 16;
              m!.region = r;
              m!.payloadOff = off + RPMSG_HEADER_SIZE;
              m!.generation = gen;
              m!.aux = limit;
              const ep = this.route(m!);
              if (ep !== undefined) {
                m!.live = true;
                cur = m;
                curEp = ep;
                this.invoke(ep, m!);
                cur = undefined;
                if (this.generation !== gen) return n; // reset / detached from inside the callback: these rings are gone
                if (m!.held) continue;
                m!.live = false;
              }
            }
          }
          if (!ok) this.stats.droppedMalformed++;
          this.rxGiveBack(i, ok ? limit : 0);
          if (++unpublished >= this.rxBatch) {
            unpublished = 0;
            this.rxPublish();
          }
        }
        // Replies sent by the callbacks first (a peer waits for them: they are the round trip), the returned
        // buffers second: each publication writes an index line the peer is polling, so the reply is visible one
        // cache-line transfer sooner. Still one publication of each per poll.
        if (n > 0) this.flushTx();
        if (unpublished > 0) this.rxPublish();
        return n;
      } catch (e) {
        const m = cur;
        if (m === undefined) {
          if (!isVirtioError(e)) throw e;
          this.fail(e);
          return n;
        }
        cur = undefined;
        if (this.generation === gen && !m.held) {
          m.live = false;
          if (!this.giveBackChecked(m)) return n;
          unpublished++;
        }
        try {
          this.callbackError(e, curEp!);
        } catch (hookError) {
          if (suppressed && this.rxArmed && this.generation === gen) this.rxRearm();
          // options.onCallbackError rethrew: publish what was given back, then let it out.
          if (this.generation === gen && unpublished > 0) this.rxPublish();
          throw hookError;
        }
        if (this.generation !== gen) return n;
      }
    }
  }

  /** Gives message `m`'s buffer back (unpublished); false when that broke the rings (needs-reset set). */
  private giveBackChecked(m: RxMessage): boolean {
    try {
      this.rxGiveBack(m.index, m.aux);
      return true;
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
      return false;
    }
  }

  /** @internal a held message was released: its buffer goes back to the ring now (if the rings are still those). */
  releaseRx(m: RxMessage): void {
    m.live = false;
    if (m.generation !== this.generation || !this.ready) return;
    try {
      this.rxGiveBack(m.index, m.aux);
      this.rxPublish();
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
    }
  }
}
