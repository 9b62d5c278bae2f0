/**
 * The flush both vsock roles run for work asked for outside their own poll() / interrupt() (an application write,
 * a credit update, a close timer): the endpoint's onWork asks for it; at most one run is scheduled at a time, through
 * the runtime's scheduler (default a microtask). The mark is cleared before the run, so work asked for during the
 * run schedules the next one and nothing is lost.
 */
export class FlushScheduler {
  private scheduled = false;
  /** Made once: asking for a flush allocates nothing. */
  private readonly fire = (): void => {
    this.scheduled = false;
    this.run();
  };

  constructor(
    /** The role's own round: the device's poll(), the driver's interrupt(). */
    private readonly run: () => void,
    private readonly schedule: (fn: () => void) => void = queueMicrotask,
  ) {}

  /** Schedules one run unless one is already scheduled. */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(this.fire);
  }
}
