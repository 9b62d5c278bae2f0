/**
 * What a trace records: one fixed-size record per event, numbers only, so a writer never allocates.
 *
 *   record (5 × f64 = 40 bytes):  ts µs | code = kind + 256 × track | a | b | c
 *
 * `ts` is CLOCK_MONOTONIC in µs (process.hrtime), the one clock every thread and process of the machine shares.
 * `track` says where the event belongs: a core for SWITCH, a task index for RT_*, a world for IRQ/SMC, a queue for VQ_*.
 */
export const TraceKind = {
  /** A world takes a core. track = core, a = world (0 secure, 1 non-secure), b = SwitchCause. */
  SWITCH: 1,
  /** An RT job released. track = task, a = nominal release µs, b = job index. */
  RT_RELEASE: 2,
  /** An RT job starts. track = task, a = job index, b = nominal release µs. */
  RT_START: 3,
  /** An RT job ends. track = task, a = job index, b = 1 when it missed its deadline. */
  RT_END: 4,
  /** A deadline miss. track = task, a = MissCause, b = lateness µs, c = job index. */
  RT_MISS: 5,
  /** An interrupt raised towards a world. track = target world, a = line. */
  IRQ_RAISE: 6,
  /** An interrupt handled. track = world, a = line, b = latency µs (raise → acknowledge; -1 unknown). */
  IRQ_HANDLE: 7,
  /** An SMC issued. track = calling world, a = call number. */
  SMC: 8,
  /** Driver made a buffer available. track = queue, a = buffer id, b = buffers in flight after. */
  VQ_ADD: 9,
  /** Device took a buffer. track = queue, a = buffer id, b = chains still pending. */
  VQ_POP: 10,
  /** Device returned a buffer used. track = queue, a = buffer id, b = bytes written. */
  VQ_USED: 11,
  /** Driver collected a used buffer. track = queue, a = buffer id, b = buffers in flight after. */
  VQ_RETIRE: 12,
  /** An RPMsg message sent. track = world, a = src, b = dst, c = len. */
  RPMSG_SEND: 13,
  /** An RPMsg message received. track = world, a = src, b = dst, c = len. */
  RPMSG_RECV: 14,
  /** A security fault. track = world, a = address, b = length, c = 1 for a write. */
  FAULT: 15,
} as const;
export type TraceKindCode = (typeof TraceKind)[keyof typeof TraceKind];

/** Why a world took the core. */
export const SwitchCause = { BOOT: 0, YIELD: 1, SMC: 2, PREEMPT: 3, EXIT: 4, TIMEOUT: 5 } as const;
export const SWITCH_CAUSE_NAMES = ['boot', 'yield', 'smc', 'fiq-preemption', 'exit', 'preemption-timeout'] as const;

/**
 * Why an RT job missed its deadline, as far as the model can tell (first matching rule wins):
 *   NS_HELD_CORE  one core: the non-secure world still held the core at the release (preemption latency);
 *   DESCHEDULED   the secure thread slept until shortly before the release and the host OS woke it after the release;
 *   LATE_RELEASE  the executive was busy (service work, another job) when the release was due;
 *   OVERRUN       the job itself ran longer than its deadline;
 *   STALLED       the job took far longer than it usually does (a GC pause, or the host descheduling the thread mid-job);
 *   SKIPPED       the release was lost because the previous job had not run yet;
 *   UNKNOWN       none of the above could be shown.
 */
export const MissCause = { UNKNOWN: 0, NS_HELD_CORE: 1, STALLED: 2, DESCHEDULED: 3, LATE_RELEASE: 4, OVERRUN: 5, SKIPPED: 6 } as const;
export type MissCauseCode = (typeof MissCause)[keyof typeof MissCause];
export const MISS_CAUSE_NAMES = ['unknown', 'non-secure-held-core', 'stalled-in-job', 'host-woke-late', 'executive-busy', 'overrun', 'skipped-release'] as const;

export const RECORD_F64 = 5;
export const RECORD_BYTES = RECORD_F64 * 8;
export const KIND_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(TraceKind).map(([k, v]) => [v, k.toLowerCase()]));
