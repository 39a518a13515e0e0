/**
 * Covariance of many 256-channel tokens in one streaming pass, without building the
 * tokens x channels matrix. ml-pca builds and centres that matrix itself and then multiplies it
 * through ml-matrix's generic arrays (0.76 s for one slice, minutes for 50); here the tokens go
 * through a small channel-major chunk and a register-blocked X^T X kernel.
 *
 * Sums are accumulated in float64 on raw (uncentred) values: a product of two float32 values is
 * exact in float64, so the only loss is the final `S - n * mean * mean^T`, which costs
 * log10(mean^2 / variance) digits of 16 -- harmless for embeddings, whose channel means and
 * spreads are of the same order.
 */

/** Tokens per chunk: 8 channel rows of 1024 float32 stay within the L1/L2 caches. */
export const CHUNK_TOKENS = 1024;

export class CovarianceAccumulator {
  private readonly chunk: Float32Array;
  private filled = 0;
  private count = 0;
  /** Upper triangle (a <= b) of sum over tokens of x_a * x_b, row-major channels x channels. */
  private readonly products: Float64Array;
  private readonly sums: Float64Array;

  constructor(readonly channels: number) {
    if (!(Number.isInteger(channels) && channels > 0 && channels % 4 === 0)) {
      throw new Error(`CovarianceAccumulator: channels must be a positive multiple of 4, got ${channels}.`);
    }
    this.chunk = new Float32Array(channels * CHUNK_TOKENS);
    this.products = new Float64Array(channels * channels);
    this.sums = new Float64Array(channels);
  }

  /** Number of tokens added so far. */
  get tokens(): number {
    return this.count;
  }

  /**
   * Adds one token whose channel c is `data[offset + c * stride]` (the layout of a channel-major
   * embedding, where stride is the grid size 64 * 64).
   */
  add(data: Float32Array, offset: number, stride: number): void {
    const ch = this.channels;
    const chunk = this.chunk;
    const t = this.filled;
    for (let c = 0; c < ch; c++) chunk[c * CHUNK_TOKENS + t] = data[offset + c * stride]!;
    this.filled++;
    this.count++;
    if (this.filled === CHUNK_TOKENS) this.flush();
  }

  /**
   * Adds `count` tokens that are contiguous in every channel row: channel c of token i is
   * `data[c * plane + start + i]` (a run of whole grid rows of a channel-major embedding). Full
   * chunks are read in place; only a remainder is copied into the chunk buffer.
   */
  addRun(data: Float32Array, plane: number, start: number, count: number): void {
    let i = 0;
    if (this.filled === 0) {
      for (; i + CHUNK_TOKENS <= count; i += CHUNK_TOKENS) {
        this.accumulate(data, plane, start + i, CHUNK_TOKENS);
        this.count += CHUNK_TOKENS;
      }
    }
    while (i < count) {
      const take = Math.min(count - i, CHUNK_TOKENS - this.filled);
      for (let c = 0; c < this.channels; c++) {
        const src = c * plane + start + i;
        this.chunk.set(data.subarray(src, src + take), c * CHUNK_TOKENS + this.filled);
      }
      this.filled += take;
      this.count += take;
      i += take;
      if (this.filled === CHUNK_TOKENS) this.flush();
    }
  }

  private flush(): void {
    if (this.filled === 0) return;
    this.accumulate(this.chunk, CHUNK_TOKENS, 0, this.filled);
    this.filled = 0;
  }

  /** Sums and products of n tokens whose channel c runs from X[c * stride + offset]. */
  private accumulate(X: Float32Array, stride: number, offset: number, n: number): void {
    const ch = this.channels;
    const S = this.products;
    const sums = this.sums;
    for (let c = 0; c < ch; c++) {
      const o = c * stride + offset;
      let s = 0;
      for (let t = 0; t < n; t++) s += X[o + t]!;
      sums[c]! += s;
    }
    // 4x4 register blocks over channel pairs: 8 loads feed 16 multiply-adds (a plain dot
    // product loop needs 2 loads per multiply-add and ran 1.6-2x slower here).
    for (let a = 0; a < ch; a += 4) {
      const a0 = a * stride + offset;
      const a1 = a0 + stride;
      const a2 = a1 + stride;
      const a3 = a2 + stride;
      for (let b = a; b < ch; b += 4) {
        const b0 = b * stride + offset;
        const b1 = b0 + stride;
        const b2 = b1 + stride;
        const b3 = b2 + stride;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let t = 0; t < n; t++) {
          const x0 = X[a0 + t]!, x1 = X[a1 + t]!, x2 = X[a2 + t]!, x3 = X[a3 + t]!;
          const y0 = X[b0 + t]!, y1 = X[b1 + t]!, y2 = X[b2 + t]!, y3 = X[b3 + t]!;
          s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
          s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
          s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
          s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
        }
        const r0 = a * ch + b;
        const r1 = r0 + ch;
        const r2 = r1 + ch;
        const r3 = r2 + ch;
        S[r0]! += s00; S[r0 + 1]! += s01; S[r0 + 2]! += s02; S[r0 + 3]! += s03;
        S[r1]! += s10; S[r1 + 1]! += s11; S[r1 + 2]! += s12; S[r1 + 3]! += s13;
        S[r2]! += s20; S[r2 + 1]! += s21; S[r2 + 2]! += s22; S[r2 + 3]! += s23;
        S[r3]! += s30; S[r3 + 1]! += s31; S[r3 + 2]! += s32; S[r3 + 3]! += s33;
      }
    }
  }

  /**
   * The per-channel mean and the sample covariance (divided by n - 1, as ml-pca and numpy's
   * `cov` do), as a full symmetric channels x channels matrix.
   */
  result(): { mean: Float64Array; covariance: Float64Array; tokens: number } {
    this.flush();
    const n = this.count;
    if (n < 2) throw new Error(`a covariance needs at least 2 tokens, got ${n}.`);
    const ch = this.channels;
    const mean = new Float64Array(ch);
    for (let c = 0; c < ch; c++) mean[c] = this.sums[c]! / n;
    const cov = new Float64Array(ch * ch);
    for (let a = 0; a < ch; a++) {
      for (let b = a; b < ch; b++) {
        // Blocks on the diagonal also filled a few (b < a) cells; only a <= b is read.
        const v = (this.products[a * ch + b]! - n * mean[a]! * mean[b]!) / (n - 1);
        cov[a * ch + b] = v;
        cov[b * ch + a] = v;
      }
    }
    return { mean, covariance: cov, tokens: n };
  }
}
