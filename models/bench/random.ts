/**
 * Seeded random weights for the benchmark models. Timing does not depend on the values, but
 * reproducibility of the files does (a cached model must be the same model), and the values must
 * keep activations in a normal float range: denormals or NaN/Inf would change the timings.
 */

/** mulberry32: tiny, fast, good enough for weights; the same seed gives the same stream. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Uniform values with the given mean and standard deviation (uniform rather than gaussian: one
 * random number per value, which keeps generating ~90 M weights well under a second or two).
 */
export function uniform(next: () => number, count: number, std: number, mean = 0): Float32Array {
  const out = new Float32Array(count);
  const half = std * Math.sqrt(3);
  for (let i = 0; i < count; i++) out[i] = mean + (next() * 2 - 1) * half;
  return out;
}

/** Standard normal values (Box-Muller), for the few places where SAM draws gaussians on purpose. */
export function gaussian(next: () => number, count: number, std = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
