/**
 * Guest timers, driven by the partition's runtime loop (there is no Node event loop turn while a worker waits on its
 * doorbell). A due timer is the core's private timer interrupt: the runtime fires it when it polls, so a timer never
 * runs in the middle of guest code. Times are µs on the machine clock.
 */
export type TimerId = number;

interface Timer {
  id: TimerId;
  due: number;
  intervalUs: number;
  fn: () => void | Promise<void>;
}

export class TimerQueue {
  private list: Timer[] = [];
  private nextId = 1;

  constructor(private readonly now: () => number) {}

  setTimeout(fn: () => void | Promise<void>, delayUs: number): TimerId {
    return this.insert({ id: this.nextId++, due: this.now() + Math.max(0, delayUs), intervalUs: 0, fn });
  }

  setInterval(fn: () => void | Promise<void>, periodUs: number): TimerId {
    const p = Math.max(1, periodUs);
    return this.insert({ id: this.nextId++, due: this.now() + p, intervalUs: p, fn });
  }

  clear(id: TimerId): void {
    this.list = this.list.filter((t) => t.id !== id);
  }

  /** Due time of the earliest timer, or Infinity. */
  nextDueUs(): number {
    return this.list.length > 0 ? this.list[0]!.due : Infinity;
  }

  get size(): number {
    return this.list.length;
  }

  /** Removes and returns the timers due at `now` (intervals re-armed at their next period, skipping missed ones). */
  takeDue(now: number): Array<() => void | Promise<void>> {
    const out: Array<() => void | Promise<void>> = [];
    while (this.list.length > 0 && this.list[0]!.due <= now) {
      const t = this.list.shift()!;
      out.push(t.fn);
      if (t.intervalUs > 0) {
        t.due += t.intervalUs;
        if (t.due <= now) t.due += Math.ceil((now - t.due + 1) / t.intervalUs) * t.intervalUs;
        this.insert(t);
      }
    }
    return out;
  }

  private insert(t: Timer): TimerId {
    let i = this.list.length;
    while (i > 0 && this.list[i - 1]!.due > t.due) i--;
    this.list.splice(i, 0, t);
    return t.id;
  }
}
