/**
 * IEEE 754 half precision <-> float32, for embeddings on disk (Node 20 has no Float16Array).
 *
 * Part of the embedding cache family: the on-disk store (disk-store.ts) writes and reads its
 * chunks with it, and `VolumeEmbeddings` (volume-embeddings.ts) rounds a freshly computed slice
 * through it so that this session sees the values a later one reads from disk; the memory cache
 * (memory-cache.ts) holds whatever it is given, float32.
 *
 * Half precision halves the store (2 MiB per slice instead of 4 MiB) and SAM embeddings do
 * not need more: their values are O(1) with a relative rounding error of 2^-11 (about 5e-4);
 * what the decoder makes of that is measured in tests/disk-store.test.ts.
 * Rounding is to nearest, ties to even (numpy's astype(float16)); overflow gives +-Infinity,
 * NaN stays NaN.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of the half nearest to `x`. */
export function toHalfBits(x: number): number {
  f32[0] = x;
  return halfFromFloatBits(u32[0]!);
}

function halfFromFloatBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is correct rounding
  return half;
}

let decodeTable: Float32Array | undefined;

/** All 65536 half values as float32 (256 KiB, built on first use). */
function table(): Float32Array {
  if (decodeTable) return decodeTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  decodeTable = t;
  return t;
}

export function fromHalfBits(h: number): number {
  return table()[h & 0xffff]!;
}

/** float32 array -> half bits (same length). */
export function encodeHalf(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (out.length !== src.length) throw new Error(`encodeHalf: output has ${out.length} slots for ${src.length} values`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfFromFloatBits(bits[i]!);
  return out;
}

/** half bits -> float32 array (same length). */
export function decodeHalf(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (out.length !== src.length) throw new Error(`decodeHalf: output has ${out.length} slots for ${src.length} values`);
  const t = table();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}
