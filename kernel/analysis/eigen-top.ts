/**
 * The few leading eigenpairs of a symmetric matrix (a 256x256 covariance), fast.
 *
 * A full decomposition with ml-matrix's `EVD` takes 140-200 ms for n = 256 here, more than the
 * whole budget of a one-slice PCA (100 ms), and we need only 3 vectors. So: block Krylov
 * Rayleigh-Ritz. Starting from a random block of p = k + 6 vectors, grow an orthonormal basis Q
 * of span{B, C B, C^2 B, ...}, solve the small projected problem Q^T C Q with ml-matrix's EVD,
 * and stop when every wanted Ritz pair has a residual |C u - theta u| below `tolerance * theta_1`.
 * A block (rather than single-vector Lanczos) finds repeated eigenvalues, up to multiplicity p.
 * If the basis reaches n vectors, the projected problem is the whole problem, so the answer is
 * exact in every case; typical covariances converge within a few blocks. A nearly flat spectrum
 * converges slowly: past `maxBasis` vectors, ml-matrix's full decomposition of C takes over.
 */
import { EVD, Matrix } from "ml-matrix";
import type { Random } from "./rng.js";

export interface EigenPairs {
  /** The k largest eigenvalues, descending. */
  readonly values: Float64Array;
  /** k unit eigenvectors, row i for values[i], row-major k x n. Signs are arbitrary. */
  readonly vectors: Float64Array;
  /** Size of the Krylov basis it took (n means a full decomposition). */
  readonly basisSize: number;
}

export interface TopEigenOptions {
  /**
   * Relative residual |C u - theta u| / |theta_1| at which a Ritz pair counts as converged
   * (default 1e-8: the eigenvector is then off by about 1e-8 / relative eigengap).
   */
  readonly tolerance?: number;
  /** Extra block vectors beyond k (default 6). */
  readonly oversampling?: number;
  /** Basis size beyond which a full ml-matrix decomposition is used instead (default n / 3). */
  readonly maxBasis?: number;
}

function matVec(C: Float64Array, n: number, v: Float64Array, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * n;
    let s = 0;
    for (let j = 0; j < n; j++) s += C[o + j]! * v[j]!;
    out[i] = s;
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Orthogonalises v against `basis` twice (classical Gram-Schmidt twice is as stable as modified
 * Gram-Schmidt and simpler), then normalises. Returns false when nothing new is left of v.
 */
function orthonormalize(v: Float64Array, basis: readonly Float64Array[]): boolean {
  const before = Math.sqrt(dot(v, v));
  if (before === 0) return false;
  for (let pass = 0; pass < 2; pass++) {
    for (const q of basis) {
      const d = dot(v, q);
      for (let i = 0; i < v.length; i++) v[i]! -= d * q[i]!;
    }
  }
  const after = Math.sqrt(dot(v, v));
  if (after <= 1e-10 * before) return false;
  for (let i = 0; i < v.length; i++) v[i]! /= after;
  return true;
}

/** The fallback: ml-matrix's full symmetric decomposition (tridiagonalisation + QL). */
function fullDecomposition(C: Float64Array, n: number, k: number): EigenPairs {
  const M = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) M.set(i, j, (C[i * n + j]! + C[j * n + i]!) / 2);
  const evd = new EVD(M, { assumeSymmetric: true });
  const theta = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const values = new Float64Array(k);
  const vectors = new Float64Array(k * n);
  for (let r = 0; r < k; r++) {
    values[r] = theta[n - 1 - r]!;
    for (let i = 0; i < n; i++) vectors[r * n + i] = V.get(i, n - 1 - r);
  }
  return { values, vectors, basisSize: n };
}

export function topEigenpairs(
  C: Float64Array,
  n: number,
  k: number,
  random: Random,
  options: TopEigenOptions = {},
): EigenPairs {
  if (C.length !== n * n) throw new Error(`topEigenpairs: matrix has ${C.length} values, expected ${n}x${n}.`);
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new Error(`topEigenpairs: k must be in 1..${n}, got ${k}.`);
  const tolerance = options.tolerance ?? 1e-8;
  // Past this basis size the small eigenproblems cost more than one full decomposition.
  const maxBasis = options.maxBasis ?? Math.max(k + 12, Math.floor(n / 3));
  const p = Math.min(n, k + (options.oversampling ?? 6));
  const Q: Float64Array[] = [];
  const CQ: Float64Array[] = [];

  const addColumn = (v: Float64Array): boolean => {
    if (Q.length >= n || !orthonormalize(v, Q)) return false;
    const cv = new Float64Array(n);
    matVec(C, n, v, cv);
    Q.push(v);
    CQ.push(cv);
    return true;
  };
  const randomColumn = (): Float64Array => {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = random.next() * 2 - 1;
    return v;
  };

  let block: number[] = [];
  for (let tries = 0; block.length < p && tries < 4 * p; tries++) {
    if (addColumn(randomColumn())) block.push(Q.length - 1);
  }

  // Q^T C Q grows by rows/columns; entries already computed never change.
  const Hfull = new Float64Array(n * n);
  let known = 0;
  for (;;) {
    const m = Q.length;
    if (m > maxBasis && m < n) return fullDecomposition(C, n, k);
    for (let j = known; j < m; j++) {
      for (let i = 0; i <= j; i++) {
        const h = (dot(Q[i]!, CQ[j]!) + dot(Q[j]!, CQ[i]!)) / 2;
        Hfull[i * n + j] = h;
        Hfull[j * n + i] = h;
      }
    }
    known = m;
    const H = new Matrix(m, m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H.set(i, j, Hfull[i * n + j]!);
    const evd = new EVD(H, { assumeSymmetric: true });
    const theta = evd.realEigenvalues; // ascending
    const Y = evd.eigenvectorMatrix;
    const values = new Float64Array(k);
    const vectors = new Float64Array(k * n);
    let worst = 0;
    const scale = Math.max(Math.abs(theta[m - 1]!), Math.abs(theta[0]!), Number.MIN_VALUE);
    const residual = new Float64Array(n);
    for (let r = 0; r < k; r++) {
      const col = m - 1 - r;
      const t = theta[col]!;
      values[r] = t;
      residual.fill(0);
      for (let j = 0; j < m; j++) {
        const y = Y.get(j, col);
        const q = Q[j]!;
        const cq = CQ[j]!;
        for (let i = 0; i < n; i++) {
          vectors[r * n + i]! += y * q[i]!;
          residual[i]! += y * cq[i]!;
        }
      }
      for (let i = 0; i < n; i++) residual[i]! -= t * vectors[r * n + i]!;
      worst = Math.max(worst, Math.sqrt(dot(residual, residual)) / scale);
    }
    if (worst <= tolerance || m >= n) return { values, vectors, basisSize: m };

    // Next block: C times the last block, made orthogonal to everything so far. Columns that
    // vanish (an invariant subspace was reached) are replaced by fresh random directions.
    const next: number[] = [];
    for (const j of block) {
      if (Q.length >= n) break;
      if (addColumn(Float64Array.from(CQ[j]!))) next.push(Q.length - 1);
    }
    for (let tries = 0; next.length < block.length && Q.length < n && tries < 4 * p; tries++) {
      if (addColumn(randomColumn())) next.push(Q.length - 1);
    }
    if (next.length === 0) return { values, vectors, basisSize: m };
    block = next;
  }
}
