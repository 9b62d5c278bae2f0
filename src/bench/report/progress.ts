/** A one-line progress bar on stderr (only when it is a terminal, so logs and pipes stay clean). */
export class ProgressBar {
  private readonly tty: boolean;
  private readonly t0 = Date.now();
  constructor(
    /** Steps in all (may grow once the plan is known). */
    public total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    enabled = true,
  ) {
    this.tty = enabled && stream.isTTY === true;
  }
  update(done: number, label: string): void {
    if (!this.tty) return;
    const width = 28;
    const f = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const n = Math.round(f * width);
    const secs = ((Date.now() - this.t0) / 1000).toFixed(0);
    const cols = this.stream.columns ?? 100;
    const line = `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${done}/${this.total} ${secs}s ${label}`;
    this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, 100))}`);
  }
  done(): void {
    if (this.tty) this.stream.write('\r\x1b[K');
  }
}
