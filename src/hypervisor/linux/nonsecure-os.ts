/**
 * What the one-core monitor needs of the process that is the non-secure Linux (user-mode Linux, or QEMU running
 * Linux): stop it while the secure world holds the core, continue it when the secure world yields, and end it.
 */
export interface NonsecureOs {
  readonly pid: number;
  readonly alive: boolean;
  /** Stops the non-secure world; returns how many processes were stopped (0: nothing to stop). */
  stop(): number;
  /** Continues what stop() stopped. */
  cont(): void;
  readonly stopped: boolean;
  /** How stop() stops Linux on this host (reported). */
  readonly stopMethod: 'sigstop+freezer' | 'sigstop';
  /** Stops that were not seen complete within their bound (where stop() waits for it). */
  readonly lateStops?: number;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  kill(): void;
}
