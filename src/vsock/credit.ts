/**
 * Credit-based flow control of one stream connection (VIRTIO 1.2 §5.10.6.3), all counters free-running u32:
 *
 *   receive side (ours)                          send side (the peer's window, as its headers told us)
 *   bufAlloc   bytes we can buffer               peerBufAlloc   the peer's buf_alloc
 *   rxCnt      payload bytes received            peerFwdCnt     the peer's fwd_cnt
 *   fwdCnt     bytes the application consumed    txCnt          payload bytes we sent
 *
 *   peer credit = peerBufAlloc − (txCnt − peerFwdCnt)     "never send beyond the peer's credit" (§5.10.6.3.1)
 *
 * Every header we send carries bufAlloc and fwdCnt, so the peer's view of our window is what we last *told* it
 * (lastBufAlloc, lastFwdCnt). A conforming peer therefore never has more than lastBufAlloc − (rxCnt − lastFwdCnt)
 * bytes in flight; a packet beyond that is a credit overflow. We send an explicit CREDIT_UPDATE when the peer's view
 * of our free space has fallen below half the window and the application has consumed something since we last told.
 * (Linux's virtio_transport_stream_do_dequeue uses a fixed 64 KiB threshold, a quarter of its default window; half
 * the window keeps a writer that has a larger window busy while the update travels, for one 44-byte packet per
 * half window.)
 */
export class Credit {
  // receive side
  readonly bufAlloc: number;
  rxCnt = 0;
  fwdCnt = 0;
  lastFwdCnt = 0;
  /** 0 until our first header went out: before that the peer has no credit at all. */
  lastBufAlloc = 0;
  private readonly threshold: number;
  // send side
  txCnt = 0;
  peerBufAlloc = 0;
  peerFwdCnt = 0;

  constructor(bufAlloc: number) {
    this.bufAlloc = bufAlloc >>> 0;
    this.threshold = Math.max(1, Math.floor(this.bufAlloc / 2));
  }

  /** Bytes we may send now (0 when the peer's window is full). */
  peerCredit(): number {
    const inFlight = (this.txCnt - this.peerFwdCnt) >>> 0;
    return inFlight >= this.peerBufAlloc ? 0 : this.peerBufAlloc - inFlight;
  }

  /**
   * Takes buf_alloc and fwd_cnt from a peer's header. fwd_cnt may only move forward, and not past what we sent:
   * returns false (and keeps the old values) when it claims to have consumed bytes we never sent.
   */
  updatePeer(bufAlloc: number, fwdCnt: number): boolean {
    const advanced = (fwdCnt - this.peerFwdCnt) >>> 0;
    const inFlight = (this.txCnt - this.peerFwdCnt) >>> 0;
    if (advanced > inFlight) return false;
    this.peerBufAlloc = bufAlloc >>> 0;
    this.peerFwdCnt = fwdCnt >>> 0;
    return true;
  }

  onSent(len: number): void {
    this.txCnt = (this.txCnt + len) >>> 0;
  }

  /** Whether `len` more bytes fit the window we told the peer (false = credit overflow, §5.10.6.3.1). */
  fits(len: number): boolean {
    const told = (this.rxCnt - this.lastFwdCnt) >>> 0;
    return told <= this.lastBufAlloc && len <= this.lastBufAlloc - told;
  }

  onReceived(len: number): void {
    this.rxCnt = (this.rxCnt + len) >>> 0;
  }

  /** The application holds `buffered` received bytes not yet consumed: fwd_cnt = rxCnt − buffered. */
  setBuffered(buffered: number): void {
    this.fwdCnt = (this.rxCnt - buffered) >>> 0;
  }

  /** A header carrying bufAlloc and fwdCnt is going out. */
  stamp(): void {
    this.lastFwdCnt = this.fwdCnt;
    this.lastBufAlloc = this.bufAlloc;
  }

  /** Whether to send a CREDIT_UPDATE now (see the file comment). */
  needsUpdate(): boolean {
    if (this.fwdCnt === this.lastFwdCnt) return false;
    const told = (this.rxCnt - this.lastFwdCnt) >>> 0;
    const peerView = told >= this.lastBufAlloc ? 0 : this.lastBufAlloc - told;
    return peerView < this.threshold;
  }
}
