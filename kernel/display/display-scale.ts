/**
 * Pictures of anisotropic slices at millimetre scale. A coronal or sagittal slice of a CT with
 * 1.3 mm pixels and 7 mm between slices is a flat strip when drawn one screen pixel per voxel;
 * repeating the coarser axis's pixels makes every pixel square in millimetres again. Nothing is
 * interpolated (nearest neighbour), so labels and masks keep their values, and the finer axis is
 * never thinned out.
 */
import type { RgbImage8 } from "../io/image.js";

/** Millimetres per pixel along x (columns) and y (rows), e.g. a ViewMapping's `pixelSpacing`. */
export interface PixelSpacing {
  readonly x: number;
  readonly y: number;
}

/** The display size of a width x height slice whose pixels have this spacing. */
export function displaySize(width: number, height: number, spacing: PixelSpacing): { width: number; height: number } {
  const { x, y } = spacing;
  if (!(x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y))) {
    throw new Error(`pixel spacing must be two positive numbers (mm per pixel along x and y), got x=${x}, y=${y}.`);
  }
  const fine = Math.min(x, y);
  return { width: Math.max(1, Math.round((width * x) / fine)), height: Math.max(1, Math.round((height * y) / fine)) };
}

/** Any row-major interleaved pixel array resampled (nearest) to `displaySize`. */
export function scaleBands<T extends Uint8Array>(data: T, width: number, height: number, bands: number, spacing: PixelSpacing): { data: Uint8Array; width: number; height: number } {
  if (data.length !== width * height * bands) {
    throw new Error(`pixel data holds ${data.length} values but ${width}x${height}x${bands} needs ${width * height * bands}.`);
  }
  const size = displaySize(width, height, spacing);
  if (size.width === width && size.height === height) return { data: new Uint8Array(data), ...size };
  const out = new Uint8Array(size.width * size.height * bands);
  const cols = Array.from({ length: size.width }, (_, x) => Math.min(width - 1, Math.floor((x * width) / size.width)));
  for (let y = 0; y < size.height; y++) {
    const sy = Math.min(height - 1, Math.floor((y * height) / size.height));
    for (let x = 0; x < size.width; x++) {
      const si = (sy * width + cols[x]!) * bands;
      const di = (y * size.width + x) * bands;
      for (let b = 0; b < bands; b++) out[di + b] = data[si + b]!;
    }
  }
  return { data: out, ...size };
}

/**
 * An RGB picture at millimetre scale: the coarser axis's pixels repeated so that every pixel is
 * square (e.g. `toDisplayScale(toRgb8(extractSlice(ct, m, z)), m.pixelSpacing)`).
 */
export function toDisplayScale(image: RgbImage8, spacing: PixelSpacing): RgbImage8 {
  return scaleBands(image.data, image.width, image.height, 3, spacing);
}

/** A point in slice pixels -> the centre of its block in the `toDisplayScale` picture. */
export function pointToDisplayScale<P extends { x: number; y: number }>(point: P, width: number, height: number, spacing: PixelSpacing): P {
  const size = displaySize(width, height, spacing);
  const fx = size.width / width;
  const fy = size.height / height;
  return { ...point, x: Math.floor((point.x + 0.5) * fx), y: Math.floor((point.y + 0.5) * fy) };
}
