/**
 * Smooth random fields and blur for the training family of shape scenes (models/demo/shapes).
 * Value noise on a random lattice, summed over octaves (fBm), gives textures from soft
 * mottling to fine grain; a separable Gaussian gives blurred edges and the imaging blur.
 */
import type { Rng } from "../../../kernel/phantom/random.js";

/**
 * Value noise: a random value in [-1, 1] at every integer lattice point (a hash of the point
 * and the seed, so nothing is stored), smoothstep-bilinear in between.
 */
export class ValueNoise {
  private readonly seed: number;

  constructor(rng: Rng) {
    this.seed = rng.uint32();
  }

  private lattice(i: number, j: number): number {
    let h = Math.imul(i | 0, 0x27d4eb2d) ^ Math.imul(j | 0, 0x165667b1) ^ this.seed;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0) / 2147483648 - 1;
  }

  at(u: number, v: number): number {
    const fu = Math.floor(u);
    const fv = Math.floor(v);
    let tu = u - fu;
    let tv = v - fv;
    tu = tu * tu * (3 - 2 * tu);
    tv = tv * tv * (3 - 2 * tv);
    const a = this.lattice(fu, fv);
    const b = this.lattice(fu + 1, fv);
    const c = this.lattice(fu, fv + 1);
    const d = this.lattice(fu + 1, fv + 1);
    return a + (b - a) * tu + (c - a) * tv + (a - b - c + d) * tu * tv;
  }
}

export interface FbmSpec {
  /** Size of the coarsest octave's lattice cell, in pixels. */
  readonly scale: number;
  readonly octaves: number;
  /** Amplitude ratio between successive octaves. */
  readonly gain: number;
  /** Oriented texture: stretch along `angle` by this factor (1 = isotropic). */
  readonly stretch: number;
  readonly angle: number;
}

/** fBm sampler (roughly zero-mean, |value| <= ~1) over pixel coordinates. */
export class Fbm {
  private readonly layers: ValueNoise[];
  private readonly norm: number;
  private readonly cos: number;
  private readonly sin: number;

  constructor(rng: Rng, readonly spec: FbmSpec) {
    this.layers = [];
    let amp = 1;
    let total = 0;
    for (let o = 0; o < spec.octaves; o++) {
      this.layers.push(new ValueNoise(rng));
      total += amp;
      amp *= spec.gain;
    }
    this.norm = 1 / total;
    this.cos = Math.cos(spec.angle);
    this.sin = Math.sin(spec.angle);
  }

  at(x: number, y: number): number {
    const s = this.spec;
    const u0 = (x * this.cos + y * this.sin) / s.stretch;
    const v0 = -x * this.sin + y * this.cos;
    let amp = 1;
    let sum = 0;
    for (let o = 0; o < this.layers.length; o++) {
      const cell = Math.max(s.scale / 2 ** o, 0.5);
      sum += amp * this.layers[o]!.at(u0 / cell + 1000, v0 / cell + 1000);
      amp *= s.gain;
    }
    return sum * this.norm;
  }
}

/** In-place separable Gaussian blur of a width*height float image (edges clamped). */
export function gaussianBlur(data: Float32Array, width: number, height: number, sigma: number): void {
  if (sigma < 0.3) return;
  const r = Math.ceil(3 * sigma);
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp((-i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  const line = new Float32Array(Math.max(width, height));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) line[x] = data[row + x]!;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r]! * line[Math.min(width - 1, Math.max(0, x + i))]!;
      data[row + x] = acc;
    }
  }
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) line[y] = data[y * width + x]!;
    for (let y = 0; y < height; y++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r]! * line[Math.min(height - 1, Math.max(0, y + i))]!;
      data[y * width + x] = acc;
    }
  }
}
