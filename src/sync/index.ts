/**
 * One wait/notify module for every layer that waits on shared memory: the doorbell (with its sleeper count), the
 * wait policies (block / spin-then-block / poll) and their one loop, and the single-core core token. It imports
 * nothing of ours, so the guest runtime, the hypervisor, the bench and the OpenAMP session can all use it (it sits
 * beside virtio/ at the bottom of the layers: a partition's idle path is guest code, below the hypervisor).
 */
export * from './doorbell.js';
export * from './policy.js';
export * from './spin-budget.js';
export * from './waiter.js';
export * from './core-token.js';
export * from './run-queue.js';
