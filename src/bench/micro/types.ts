/**
 * A micro benchmark: one hot operation, timed in ns/op by the bench runner (`npm run bench`,
 * `tz-virtio bench --micro`). Each area keeps its own file of micro benchmarks in this folder, exporting
 * `benches: MicroBench[]`.
 */
export interface MicroBench {
  /** "<area>/<operation>", e.g. "split/driver.addBuffer+kick". */
  readonly name: string;
  /**
   * Builds fresh state and returns a function that performs exactly `n` operations (state must stay valid for any
   * number of calls: recycle buffers, do not grow).
   */
  prepare(): (n: number) => void;
}
