/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32) so that every fuzz case is reproducible
 * from (seed, target, iteration) alone: a finding is replayed with `tz-virtio fuzz --seed S --replay I`.
 * Not cryptographic; fast (no allocation, 32-bit integer arithmetic only).
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for one stream of a seed (streams are independent: iteration numbers, worker ids). */
  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix() | 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform u32. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32. */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  u16(): number {
    return this.u32() & 0xffff;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A value biased towards the edges that break parsers: 0, 1, powers of two and their neighbours, all-ones. */
  edgyU32(): number {
    switch (this.int(6)) {
      case 0:
        return 0;
      case 1:
        return 0xffff_ffff;
      case 2: {
        const p = 2 ** this.int(32);
        return (p + this.range(-1, 1)) >>> 0;
      }
      case 3:
        return this.int(64);
      default:
        return this.u32();
    }
  }
}
