/**
 * segment_anything's uncompressed RLE (`output_mode="uncompressed_rle"`, the COCO layout):
 * `{size: [h, w], counts}` with runs over the mask in column-major (Fortran) order, starting
 * with a run of background (0 when the first pixel is foreground).
 */

export interface UncompressedRle {
  readonly size: [number, number];
  readonly counts: number[];
}

/** segment_anything's `mask_to_rle_pytorch` for one row-major HxW mask (nonzero = foreground). */
export function maskToRle(mask: Uint8Array, width: number, height: number): UncompressedRle {
  if (mask.length !== width * height) throw new Error(`mask has ${mask.length} pixels; ${width}x${height} needs ${width * height}.`);
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < mask.length; i += width) {
      const v = mask[i] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}

/** segment_anything's `rle_to_mask`: back to a row-major HxW 0/1 mask. */
export function rleToMask(rle: UncompressedRle): Uint8Array {
  const [h, w] = rle.size;
  const mask = new Uint8Array(h * w);
  let idx = 0;
  let value = 0;
  for (const count of rle.counts) {
    if (value) {
      for (let k = idx; k < idx + count; k++) {
        const x = Math.floor(k / h);
        mask[(k - x * h) * w + x] = 1;
      }
    }
    idx += count;
    value ^= 1;
  }
  if (idx !== h * w) throw new Error(`RLE counts sum to ${idx}; size ${h}x${w} needs ${h * w}.`);
  return mask;
}

/** segment_anything's `area_from_rle`: the sum of the foreground runs. */
export function areaFromRle(rle: UncompressedRle): number {
  let area = 0;
  for (let i = 1; i < rle.counts.length; i += 2) area += rle.counts[i]!;
  return area;
}
