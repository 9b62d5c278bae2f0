/**
 * What every thread or process that runs devices installs once at its start: the platform's accelerations of the
 * layers that may not import the platform themselves (src/virtio, src/sync). One call per entry point (the CLI, the
 * partition and bench workers, the OpenAMP session), so a new hook is added here and nowhere else:
 *
 *   copyBytes      payload copies through the addon's memmove from 1 KiB (src/virtio/copy.ts, src/host/native-copy.ts)
 *   run-queue      the peer-aware waiter's load signal (src/sync/run-queue.ts, src/host/schedstat.ts)
 *
 * Each hook falls back by itself where the platform lacks it (no addon, not Linux). It lives with the transports:
 * the layer that joins the platform (src/host) to the VirtIO core.
 */
import { installCopyBytes } from '../virtio/copy.js';
import { installRunQueueProbe } from '../sync/run-queue.js';
import { nativeCopyBytes } from '../host/native-copy.js';
import { threadRunQueueProbe } from '../host/schedstat.js';

/** Installs this thread's platform hooks (idempotent: a second call installs the same again). */
export function installThreadHooks(): void {
  installCopyBytes(nativeCopyBytes());
  installRunQueueProbe(threadRunQueueProbe());
}
