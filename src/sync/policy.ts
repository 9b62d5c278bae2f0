/**
 * The wait policies (ARCHITECTURE.md "Waiting"), chosen per endpoint, device or core:
 *   block            sleep on the doorbell as soon as there is nothing to do
 *   spin-then-block  poll for a budget (./spin-budget.ts: follows the host's measured wake-up latency), then sleep
 *   poll             never sleep (costs a core)
 *   peer-aware       spin-then-block that stops spinning at once while the peer sleeps (its doorbell's sleeper
 *                    count is non-zero): a sleeping peer produces nothing, so spinning for it only takes CPU from
 *                    whoever else needs it. Without a known peer doorbell it is spin-then-block. On a crowded
 *                    machine (the thread keeps waiting for a CPU: ./run-queue.ts) it is block (./waiter.ts).
 */
export type WaitPolicy = 'block' | 'spin-then-block' | 'poll' | 'peer-aware';
export const WAIT_POLICIES: readonly WaitPolicy[] = ['block', 'spin-then-block', 'poll', 'peer-aware'];
/**
 * The default of the bench sides and the OpenAMP session: peer-aware. In interleaved A/B runs on a loaded 2-core
 * host it beat spin-then-block in every multi-core throughput row of our contenders (1.1-2.4x) and cut round trips
 * 7-9x, to block's level (docs/benchmarks.md, "A peer-aware policy and the default"); with an awake peer it spins as
 * spin-then-block does, which is what a quiet host rewards. The hypervisor's cores keep block (./wait-policy.ts).
 */
export const DEFAULT_WAIT_POLICY: WaitPolicy = 'peer-aware';

export function isWaitPolicy(v: unknown): v is WaitPolicy {
  return typeof v === 'string' && (WAIT_POLICIES as readonly string[]).includes(v);
}
