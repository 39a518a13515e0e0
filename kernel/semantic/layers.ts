/**
 * The few layers the semantic heads are made of, forward and backward, on token-major Float32Arrays
 * (one row of features per grid cell, cells row-major). Written by hand rather than taken from a
 * tensor library: tfjs 4.22 cannot train the conv head on its wasm backend (no convolution filter
 * gradient), and its cpu backend is slower than these loops and gets the bilinear-resize gradient
 * wrong on non-square grids (figures in docs/semantic.md); and no dependency is added.
 *
 * Loops keep the innermost index contiguous in both operands (weights stored [out, ..., in]), which
 * is what makes plain JavaScript fast enough here.
 */

/** Y[n, m] = b[m] + sum_k X[n, k] W[m, k]  (X: [N, K], W: [M, K]). */
export function denseForward(x: Float32Array, n: number, k: number, w: Float32Array, b: Float32Array, m: number, out?: Float32Array): Float32Array {
  const y = out ?? new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    const xo = i * k;
    const yo = i * m;
    for (let j = 0; j < m; j++) {
      const wo = j * k;
      let s = b[j]!;
      let q = 0;
      // two accumulators: shorter dependency chains, measurably faster in V8
      for (; q + 1 < k; q += 2) s += x[xo + q]! * w[wo + q]! + x[xo + q + 1]! * w[wo + q + 1]!;
      if (q < k) s += x[xo + q]! * w[wo + q]!;
      y[yo + j] = s;
    }
  }
  return y;
}

/** Accumulates dW += dYᵀ X, db += colsum(dY); returns dX = dY W when `wantInput`. */
export function denseBackward(
  x: Float32Array,
  n: number,
  k: number,
  w: Float32Array,
  m: number,
  dy: Float32Array,
  dw: Float32Array,
  db: Float32Array,
  wantInput: boolean,
): Float32Array | undefined {
  const dx = wantInput ? new Float32Array(n * k) : undefined;
  for (let i = 0; i < n; i++) {
    const xo = i * k;
    const yo = i * m;
    for (let j = 0; j < m; j++) {
      const g = dy[yo + j]!;
      if (g === 0) continue;
      db[j] = db[j]! + g;
      const wo = j * k;
      for (let q = 0; q < k; q++) dw[wo + q] = dw[wo + q]! + g * x[xo + q]!;
      if (dx) for (let q = 0; q < k; q++) dx[xo + q] = dx[xo + q]! + g * w[wo + q]!;
    }
  }
  return dx;
}

/**
 * 3x3 convolution with zero padding over a rows x cols grid: A [R*Cc, H] -> Y [R*Cc, O],
 * W [O, 3, 3, H] (innermost = input channel), b [O].
 */
export function conv3x3Forward(a: Float32Array, rows: number, cols: number, h: number, w: Float32Array, b: Float32Array, o: number): Float32Array {
  const y = new Float32Array(rows * cols * o);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const yo = (r * cols + c) * o;
      for (let j = 0; j < o; j++) y[yo + j] = b[j]!;
      for (let ky = -1; ky <= 1; ky++) {
        const rr = r + ky;
        if (rr < 0 || rr >= rows) continue;
        for (let kx = -1; kx <= 1; kx++) {
          const cc = c + kx;
          if (cc < 0 || cc >= cols) continue;
          const ao = (rr * cols + cc) * h;
          const tap = ((ky + 1) * 3 + (kx + 1)) * h;
          for (let j = 0; j < o; j++) {
            const wo = j * 9 * h + tap;
            let s = 0;
            for (let q = 0; q < h; q++) s += a[ao + q]! * w[wo + q]!;
            y[yo + j] = y[yo + j]! + s;
          }
        }
      }
    }
  }
  return y;
}

/** Backward of conv3x3Forward: accumulates dW, db and returns dA. */
export function conv3x3Backward(
  a: Float32Array,
  rows: number,
  cols: number,
  h: number,
  w: Float32Array,
  o: number,
  dy: Float32Array,
  dw: Float32Array,
  db: Float32Array,
): Float32Array {
  const da = new Float32Array(rows * cols * h);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const yo = (r * cols + c) * o;
      for (let j = 0; j < o; j++) db[j] = db[j]! + dy[yo + j]!;
      for (let ky = -1; ky <= 1; ky++) {
        const rr = r + ky;
        if (rr < 0 || rr >= rows) continue;
        for (let kx = -1; kx <= 1; kx++) {
          const cc = c + kx;
          if (cc < 0 || cc >= cols) continue;
          const ao = (rr * cols + cc) * h;
          const tap = ((ky + 1) * 3 + (kx + 1)) * h;
          for (let j = 0; j < o; j++) {
            const g = dy[yo + j]!;
            if (g === 0) continue;
            const wo = j * 9 * h + tap;
            for (let q = 0; q < h; q++) {
              dw[wo + q] = dw[wo + q]! + g * a[ao + q]!;
              da[ao + q] = da[ao + q]! + g * w[wo + q]!;
            }
          }
        }
      }
    }
  }
  return da;
}

/** Per-axis bilinear taps: for each fine index, the two coarse indices and the weight of the second. */
export interface AxisTaps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly t: Float32Array;
}

/**
 * Taps that place `fine` samples on a `coarse` axis: sample i sits at coarse coordinate
 * `position(i)` (cell k's centre = k), clamped at the ends.
 */
export function axisTaps(fine: number, coarse: number, position: (i: number) => number): AxisTaps {
  const i0 = new Int32Array(fine);
  const i1 = new Int32Array(fine);
  const t = new Float32Array(fine);
  for (let i = 0; i < fine; i++) {
    const p = Math.min(Math.max(position(i), 0), coarse - 1);
    const a = Math.floor(p);
    i0[i] = a;
    i1[i] = Math.min(a + 1, coarse - 1);
    t[i] = p - a;
  }
  return { i0, i1, t };
}

/** Bilinear resampling of a [R, Cc, C] grid to [taps rows, taps cols, C]; adds into `out` when given. */
export function bilinearForward(src: Float32Array, srcCols: number, ch: number, rowsT: AxisTaps, colsT: AxisTaps, out?: Float32Array): Float32Array {
  const fr = rowsT.i0.length;
  const fc = colsT.i0.length;
  const y = out ?? new Float32Array(fr * fc * ch);
  for (let r = 0; r < fr; r++) {
    const r0 = rowsT.i0[r]! * srcCols;
    const r1 = rowsT.i1[r]! * srcCols;
    const ty = rowsT.t[r]!;
    for (let c = 0; c < fc; c++) {
      const c0 = colsT.i0[c]!;
      const c1 = colsT.i1[c]!;
      const tx = colsT.t[c]!;
      const w00 = (1 - ty) * (1 - tx);
      const w01 = (1 - ty) * tx;
      const w10 = ty * (1 - tx);
      const w11 = ty * tx;
      const a = (r0 + c0) * ch;
      const b = (r0 + c1) * ch;
      const d = (r1 + c0) * ch;
      const e = (r1 + c1) * ch;
      const o = (r * fc + c) * ch;
      for (let k = 0; k < ch; k++) y[o + k] = y[o + k]! + w00 * src[a + k]! + w01 * src[b + k]! + w10 * src[d + k]! + w11 * src[e + k]!;
    }
  }
  return y;
}

/** Adjoint of bilinearForward: spreads `dy` back onto a [R, Cc, C] grid. */
export function bilinearBackward(dy: Float32Array, srcRows: number, srcCols: number, ch: number, rowsT: AxisTaps, colsT: AxisTaps): Float32Array {
  const ds = new Float32Array(srcRows * srcCols * ch);
  const fr = rowsT.i0.length;
  const fc = colsT.i0.length;
  for (let r = 0; r < fr; r++) {
    const r0 = rowsT.i0[r]! * srcCols;
    const r1 = rowsT.i1[r]! * srcCols;
    const ty = rowsT.t[r]!;
    for (let c = 0; c < fc; c++) {
      const c0 = colsT.i0[c]!;
      const c1 = colsT.i1[c]!;
      const tx = colsT.t[c]!;
      const w00 = (1 - ty) * (1 - tx);
      const w01 = (1 - ty) * tx;
      const w10 = ty * (1 - tx);
      const w11 = ty * tx;
      const a = (r0 + c0) * ch;
      const b = (r0 + c1) * ch;
      const d = (r1 + c0) * ch;
      const e = (r1 + c1) * ch;
      const o = (r * fc + c) * ch;
      for (let k = 0; k < ch; k++) {
        const g = dy[o + k]!;
        if (g === 0) continue;
        ds[a + k] = ds[a + k]! + w00 * g;
        ds[b + k] = ds[b + k]! + w01 * g;
        ds[d + k] = ds[d + k]! + w10 * g;
        ds[e + k] = ds[e + k]! + w11 * g;
      }
    }
  }
  return ds;
}

/**
 * Sub-pixel (pixel-shuffle) output: each of the R x Cc cells carries f*f values per class,
 * S [R*Cc, C*f*f] with index (k*f + i)*f + j, added onto the fine grid [R*f, Cc*f, C].
 */
export function shuffleAdd(s: Float32Array, rows: number, cols: number, ch: number, f: number, fine: Float32Array): void {
  const fc = cols * f;
  const per = ch * f * f;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const so = (r * cols + c) * per;
      for (let i = 0; i < f; i++) {
        for (let j = 0; j < f; j++) {
          const o = ((r * f + i) * fc + c * f + j) * ch;
          for (let k = 0; k < ch; k++) fine[o + k] = fine[o + k]! + s[so + (k * f + i) * f + j]!;
        }
      }
    }
  }
}

/** Adjoint of shuffleAdd: the fine-grid gradient gathered back into [R*Cc, C*f*f]. */
export function shuffleBackward(dfine: Float32Array, rows: number, cols: number, ch: number, f: number): Float32Array {
  const fc = cols * f;
  const per = ch * f * f;
  const ds = new Float32Array(rows * cols * per);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const so = (r * cols + c) * per;
      for (let i = 0; i < f; i++) {
        for (let j = 0; j < f; j++) {
          const o = ((r * f + i) * fc + c * f + j) * ch;
          for (let k = 0; k < ch; k++) ds[so + (k * f + i) * f + j] = dfine[o + k]!;
        }
      }
    }
  }
  return ds;
}

/** Softmax over the last axis of [N, C], in place. */
export function softmaxRows(z: Float32Array, n: number, ch: number): Float32Array {
  for (let i = 0; i < n; i++) {
    const o = i * ch;
    let max = -Infinity;
    for (let k = 0; k < ch; k++) max = Math.max(max, z[o + k]!);
    let sum = 0;
    for (let k = 0; k < ch; k++) {
      const e = Math.exp(z[o + k]! - max);
      z[o + k] = e;
      sum += e;
    }
    for (let k = 0; k < ch; k++) z[o + k] = z[o + k]! / sum;
  }
  return z;
}

/**
 * Weighted cross-entropy with soft targets q [N, C] (rows sum to 1 or are all 0) and a weight per
 * row: returns the weighted loss sum and writes d(loss sum)/d(logits) into `grad` (scaled by `scale`).
 */
export function softCrossEntropy(
  logits: Float32Array,
  q: Float32Array,
  weight: Float32Array,
  n: number,
  ch: number,
  grad: Float32Array | undefined,
  scale: number,
): number {
  let loss = 0;
  const p = new Float32Array(ch);
  for (let i = 0; i < n; i++) {
    const w = weight[i]!;
    const o = i * ch;
    if (w === 0) {
      if (grad) for (let k = 0; k < ch; k++) grad[o + k] = 0;
      continue;
    }
    let max = -Infinity;
    for (let k = 0; k < ch; k++) max = Math.max(max, logits[o + k]!);
    let sum = 0;
    for (let k = 0; k < ch; k++) {
      const e = Math.exp(logits[o + k]! - max);
      p[k] = e;
      sum += e;
    }
    const logSum = Math.log(sum) + max;
    for (let k = 0; k < ch; k++) {
      const t = q[o + k]!;
      if (t > 0) loss -= w * t * (logits[o + k]! - logSum);
      if (grad) grad[o + k] = scale * w * (p[k]! / sum - t);
    }
  }
  return loss;
}
