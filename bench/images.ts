/**
 * Deterministic synthetic slices for the benchmarks. Timings of intensity conversion and
 * resizing do not depend on the content, but min/max and window clipping paths do a little, so
 * the images look like what users load: a CT-like int16 slice in Hounsfield units and an
 * 8-bit gray image with structure and noise.
 */
import type { Image2D } from "../kernel/io/image.js";
import { rng } from "../models/bench/random.js";

/** An 8-bit gray slice: bright ellipse with darker organs, a gradient and noise. */
export function grayImage8(width = 512, height = 512, seed = 7): Image2D {
  const next = rng(seed);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (x - width / 2) / (width * 0.42);
      const v = (y - height / 2) / (height * 0.35);
      let val = 12 + (18 * x) / width;
      if (u * u + v * v < 1) val = 120 + 30 * Math.sin(x * 0.05) * Math.cos(y * 0.04);
      const o = (x - width * 0.4) ** 2 + (y - height * 0.5) ** 2;
      if (o < (width * 0.08) ** 2) val = 200;
      data[y * width + x] = Math.max(0, Math.min(255, Math.round(val + (next() - 0.5) * 20)));
    }
  }
  return { width, height, channels: 1, data };
}

/** A CT-like int16 slice: air -1000, body ~40 HU, lungs ~-800, bone 700..1500, with noise. */
export function ctImage16(width = 512, height = 512, seed = 11): Image2D {
  const next = rng(seed);
  const data = new Int16Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (x - width / 2) / (width * 0.44);
      const v = (y - height / 2) / (height * 0.34);
      let hu = -1000;
      if (u * u + v * v < 1) {
        hu = 40;
        const lx = Math.abs(x - width / 2) / (width * 0.16) - 1.1;
        const ly = (y - height * 0.45) / (height * 0.2);
        if (lx * lx + ly * ly < 1 && lx > -1.1) hu = -800;
        const spine = (x - width / 2) ** 2 + (y - height * 0.72) ** 2;
        if (spine < (width * 0.04) ** 2) hu = 700 + 800 * (1 - spine / (width * 0.04) ** 2);
      }
      data[y * width + x] = Math.round(hu + (next() - 0.5) * 60);
    }
  }
  return { width, height, channels: 1, data };
}

/**
 * A copy of `image` with one pixel changed, so that the engine's embedding cache (keyed by the
 * pixels) misses and every timed run really runs the encoder.
 */
export function variant(image: Image2D, i: number): Image2D {
  const data = image.data.slice();
  const k = i % data.length;
  data[k] = (Number(data[k]) + 1 + i) % 200;
  return { ...image, data };
}
