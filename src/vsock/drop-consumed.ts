/**
 * The arrays a vsock socket consumes from the front (its send queue, the lengths of SEQPACKET messages handed to the
 * reader) keep a head index instead of shifting on every element taken. This is the one rule that keeps them
 * bounded: an array consumed to its end starts over at 0; a head past more than half of an array longer than 64
 * elements drops the consumed part (one splice for many takes, so a take stays O(1) amortised).
 */
const COMPACT_AFTER = 64;

/** Applies the rule to `a`, consumed up to `head`; returns the head to use from now on. */
export function dropConsumed<T>(a: T[], head: number): number {
  if (head === a.length) {
    a.length = 0;
    return 0;
  }
  if (head > COMPACT_AFTER && head * 2 > a.length) {
    a.splice(0, head);
    return 0;
  }
  return head;
}
