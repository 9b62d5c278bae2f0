/**
 * The targets, checked against one report (ratios from the same run). A benchmark, not a test: a missed
 * target is reported with its numbers, never asserted.
 */
import type { BenchReport, HeapResult, RttResult, ThroughputResult } from '../types.js';
import { fmtSi, fmtUs } from './format.js';
import { nativeRatios } from './native-ratio.js';

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** undefined when the run lacks the numbers (experiment or contender not run). */
  readonly met: boolean | undefined;
}

export function checkTargets(r: BenchReport): TargetCheck[] {
  const tp = r.results.filter((x): x is ThroughputResult => x.experiment === 'throughput' && 'bytesPerSec' in x);
  const rtt = r.results.filter((x): x is RttResult => x.experiment === 'rtt' && 'p50Us' in x);
  const heap = r.results.find((x): x is HeapResult => x.experiment === 'heap' && 'growthBytes' in x);
  const t = (c: string, size: number, mode = 'multi-core'): ThroughputResult | undefined => tp.find((x) => x.contender === c && x.size === size && (x.mode === mode || x.mode === 'n/a'));
  const rt = (c: string, p: string): RttResult | undefined => rtt.find((x) => x.contender === c && x.policy === p);
  const out: TargetCheck[] = [];
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const x2 = (v: number | undefined): string => (v === undefined ? 'n/a' : `${v.toFixed(2)}x`);
  /** The same ratio from the best rounds (max rate), the estimate least affected by other work on the machine. */
  const best = (a: ThroughputResult | undefined, b: ThroughputResult | undefined, f: (x: ThroughputResult) => number): string => {
    const q = a && b ? f(a) / f(b) : undefined;
    return q === undefined ? '' : `; best rounds ${x2(q)}`;
  };
  const maxRate = (x: ThroughputResult): number => x.msgsPerSecSpread.max;

  {
    const rp = t('rpmsg', 64)?.msgsPerSec;
    const rb = t('ringbuf.js', 64)?.msgsPerSec;
    const pm = t('postMessage-clone', 64)?.msgsPerSec;
    const q = ratio(rp, rb);
    out.push({ target: '64 B message rate: rpmsg >= ringbuf.js (multi-core)', measured: `rpmsg ${rp ? fmtSi(rp, 'msg/s') : 'n/a'}, ringbuf.js ${rb ? fmtSi(rb, 'msg/s') : 'n/a'} (${x2(q)}${best(t('rpmsg', 64), t('ringbuf.js', 64), maxRate)}; ringbuf.js/postMessage-clone ${x2(ratio(rb, pm))})`, met: q === undefined ? undefined : q >= 1 });
  }
  for (const c of ['virtqueue', 'virtqueue-packed', 'virtqueue-inplace']) {
    const v = t(c, 65536)?.bytesPerSec;
    if (v === undefined && c !== 'virtqueue') continue;
    const pt = t('postMessage-transfer', 65536)?.bytesPerSec;
    const mc = t('memcpy', 65536)?.bytesPerSec;
    const q1 = ratio(v, pt);
    const q2 = ratio(v, mc);
    out.push({ target: `64 KiB bandwidth: ${c} >= 1.5x postMessage-transfer`, measured: `${v ? fmtSi(v, 'B/s') : 'n/a'} vs ${pt ? fmtSi(pt, 'B/s') : 'n/a'} (${x2(q1)}${best(t(c, 65536), t('postMessage-transfer', 65536), maxRate)})`, met: q1 === undefined ? undefined : q1 >= 1.5 });
    out.push({ target: `64 KiB bandwidth: ${c} >= 50% of memcpy`, measured: `${v ? fmtSi(v, 'B/s') : 'n/a'} vs ${mc ? fmtSi(mc, 'B/s') : 'n/a'} (${q2 === undefined ? 'n/a' : (q2 * 100).toFixed(0) + '%'}${best(t(c, 65536), t('memcpy', 65536), maxRate)})`, met: q2 === undefined ? undefined : q2 >= 0.5 });
  }
  for (const c of ['rpmsg', 'virtqueue']) {
    const sr = rt(c, 'spin-then-block');
    const s = sr?.p50Us;
    out.push({ target: `rtt p50 <= 1 µs with spin-then-block (${c})`, measured: s === undefined ? 'n/a' : `${fmtUs(s)} (best round ${fmtUs(sr!.p50UsSpread.min)})`, met: s === undefined ? undefined : s <= 1 });
    const br = rt(c, 'block');
    const fr = rt('atomics-floor', 'block');
    const b = br?.p50Us;
    const f = fr?.p50Us;
    const q = ratio(b, f);
    const qb = br && fr ? `; best rounds ${x2(br.p50UsSpread.min / fr.p50UsSpread.min)}` : '';
    out.push({ target: `blocking rtt p50 <= 1.2x the Atomics floor (${c})`, measured: `${b === undefined ? 'n/a' : fmtUs(b)} vs ${f === undefined ? 'n/a' : fmtUs(f)} (${x2(q)}${qb})`, met: q === undefined ? undefined : q <= 1.2 });
  }
  for (const c of ['rpmsg', 'virtqueue']) {
    const s = t(c, 4096, 'single-core')?.bytesPerSec;
    const m = t(c, 4096, 'multi-core')?.bytesPerSec;
    const q = ratio(s, m);
    out.push({ target: `4 KiB: single-core >= 50% of multi-core (${c})`, measured: `${s ? fmtSi(s, 'B/s') : 'n/a'} vs ${m ? fmtSi(m, 'B/s') : 'n/a'} (${q === undefined ? 'n/a' : (q * 100).toFixed(0) + '%'}${best(t(c, 4096, 'single-core'), t(c, 4096, 'multi-core'), maxRate)})`, met: q === undefined ? undefined : q >= 0.5 });
  }
  const nat = nativeRatios(r);
  {
    const rp = t('rpmsg', 64);
    const q = rp ? nat.throughput(rp) : undefined;
    const nb = t('native', 64);
    out.push({ target: '64 B message rate: rpmsg >= 0.5x native (multi-core)', measured: `${x2(q)}${best(rp, nb, maxRate)}`, met: q === undefined ? undefined : q >= 0.5 });
    // the same ratio against js-ring, native's algorithm in JavaScript: separates the cost of the protocol (what we
    // can change) from the cost of the language on this machine (js-ring / native)
    const js = t('js-ring', 64);
    const qj = ratio(rp?.msgsPerSec, js?.msgsPerSec);
    const jn = js ? nat.throughput(js) : undefined;
    out.push({ target: '64 B message rate: rpmsg >= 0.5x js-ring, the JavaScript limit (multi-core)', measured: `${x2(qj)}${best(rp, js, maxRate)}; js-ring itself ${x2(jn)} native`, met: qj === undefined ? undefined : qj >= 0.5 });
  }
  for (const size of [64, 4096]) {
    const names = [...new Set(tp.filter((x) => x.mode === 'single-core' && x.size === size).map((x) => x.contender))];
    for (const c of names) {
      const s = t(c, size, 'single-core')?.msgsPerSec;
      const m = t(c, size, 'multi-core')?.msgsPerSec;
      const q = ratio(m, s);
      out.push({ target: `${size === 64 ? '64 B' : '4 KiB'}: multi-core >= single-core (${c})`, measured: `${m ? fmtSi(m, 'msg/s') : 'n/a'} vs ${s ? fmtSi(s, 'msg/s') : 'n/a'} (${x2(q)}${best(t(c, size, 'multi-core'), t(c, size, 'single-core'), maxRate)})`, met: q === undefined ? undefined : q >= 1 });
    }
  }
  for (const [c, limit] of [['virtqueue', 2], ['rpmsg', 3]] as const) {
    const x = rt(c, 'spin-then-block');
    const q = x ? nat.rtt(x) : undefined;
    out.push({ target: `rtt p50 spin-then-block <= ${limit}x native spin rtt (${c})`, measured: x ? `${fmtUs(x.p50Us)} (${x2(q)})` : 'n/a', met: q === undefined ? undefined : q <= limit });
  }
  out.push({
    target: 'no heap growth over 10^6 rpmsg messages',
    measured: heap ? `${heap.messages} messages: ${heap.growthBytes} B after GC (${heap.bytesPerMessage.toFixed(4)} B/msg); ${heap.allocBytesPerMessage} B/msg allocated on the hot path, ${heap.gcs} GCs` : 'n/a',
    // "no growth": under 0.1 B/message after GC (100 kB per 10^6 messages); V8's code and feedback caches alone
    // move the heap by tens of kB, a leak of one small object per message would add tens of MB
    met: heap ? heap.bytesPerMessage < 0.1 : undefined,
  });
  return out;
}
