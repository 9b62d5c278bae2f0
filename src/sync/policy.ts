/**
 * The wait policies (ARCHITECTURE.md "Waiting"), chosen per endpoint, device or core:
 *   block            sleep on the doorbell as soon as there is nothing to do
 *   spin-then-block  poll for a budget (./spin-budget.ts: follows the host's measured wake-up latency), then sleep
 *   poll             never sleep (costs a core)
 */
export type WaitPolicy = 'block' | 'spin-then-block' | 'poll';
export const WAIT_POLICIES: readonly WaitPolicy[] = ['block', 'spin-then-block', 'poll'];
/** The default everywhere: robust across hosts whose wake-ups cost 10 µs or 500 µs. */
export const DEFAULT_WAIT_POLICY: WaitPolicy = 'spin-then-block';

export function isWaitPolicy(v: unknown): v is WaitPolicy {
  return typeof v === 'string' && (WAIT_POLICIES as readonly string[]).includes(v);
}
