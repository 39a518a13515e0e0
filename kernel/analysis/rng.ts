/**
 * A small seeded random generator, so that a simulated evaluation can be rerun and give the
 * same prompts. The reference (micro_sam) draws from numpy's global, unseeded generator, so
 * only the distributions can match it, never the numbers.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna), 32-bit state words, seeded through SplitMix32 so
 * that nearby seeds (0, 1, 2, ...) give unrelated streams. It is fast, passes BigCrush, and is
 * a few lines, which matters more here than cryptographic strength.
 */

export interface Random {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Any integer seed (negative and large values are taken modulo 2^32). */
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    const init = splitmix32(seed);
    this.a = init();
    this.b = init();
    this.c = init();
    this.d = init();
    // All-zero state is the one fixed point of xoshiro; SplitMix32 cannot produce four zeros
    // in a row, but guard anyway because a stuck generator would be a silent disaster.
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }

  /** A generator at an explicit xoshiro128** state (for checking against published sequences). */
  static fromState(a: number, b: number, c: number, d: number): SeededRandom {
    const r = new SeededRandom(0);
    r.a = a >>> 0;
    r.b = b >>> 0;
    r.c = c >>> 0;
    r.d = d >>> 0;
    if ((r.a | r.b | r.c | r.d) === 0) throw new Error("the all-zero xoshiro128** state is invalid (it only produces zeros)");
    return r;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    return result;
  }

  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new Error(`int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    // Rejection sampling: draws above the largest multiple of n would favour small results.
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }
}
