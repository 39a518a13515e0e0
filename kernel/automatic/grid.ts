/**
 * Where the generator clicks: point grids per crop layer and the crop boxes of each layer,
 * with segment_anything's formulas (`utils/amg.py`), so that a grid or a crop of ours is the
 * one SAM would use for the same image and options.
 */

/** A point in [0,1]x[0,1] (fraction of the crop's width and height). */
export interface GridPoint {
  readonly x: number;
  readonly y: number;
}

/** `np.linspace(start, stop, n)`: `start + i * step`, the last value set to `stop` exactly. */
function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  const out = Array.from({ length: n }, (_, i) => i * step + start);
  out[n - 1] = stop;
  return out;
}

/**
 * segment_anything's `build_point_grid`: n x n points at the centres of an n x n tiling of
 * [0,1]^2, x varying fastest (row by row from the top).
 */
export function buildPointGrid(nPerSide: number): GridPoint[] {
  if (!Number.isInteger(nPerSide) || nPerSide < 1) throw new Error(`points per side must be a whole number >= 1, not ${nPerSide}.`);
  const offset = 1 / (2 * nPerSide);
  const side = linspace(offset, 1 - offset, nPerSide);
  const out: GridPoint[] = [];
  for (const y of side) for (const x of side) out.push({ x, y });
  return out;
}

/**
 * segment_anything's `build_all_layer_point_grids`: layer i samples
 * `int(n_per_side / scale_per_layer ** i)` points per side.
 */
export function buildAllLayerPointGrids(nPerSide: number, nLayers: number, scalePerLayer: number): GridPoint[][] {
  const grids: GridPoint[][] = [];
  for (let i = 0; i <= nLayers; i++) grids.push(buildPointGrid(Math.trunc(nPerSide / scalePerLayer ** i)));
  return grids;
}

/** A box by its corners [x0, y0, x1, y1] (XYXY, x1/y1 exclusive for crops), in pixels. */
export type BoxXyxy = readonly [number, number, number, number];

export interface CropBox {
  readonly box: BoxXyxy;
  /** 0 for the whole image, i for the (2^i)^2 crops of layer i. */
  readonly layer: number;
}

/**
 * segment_anything's `generate_crop_boxes`: the whole image, then for layer i (1-based)
 * 2^i x 2^i overlapping crops; crops are listed column of crops by column (x0 outer, y0
 * inner), as `itertools.product(x0s, y0s)` lists them.
 */
export function generateCropBoxes(size: { height: number; width: number }, nLayers: number, overlapRatio: number): CropBox[] {
  const { height: imH, width: imW } = size;
  const shortSide = Math.min(imH, imW);
  const out: CropBox[] = [{ box: [0, 0, imW, imH], layer: 0 }];
  const cropLen = (origLen: number, nCrops: number, overlap: number) => Math.ceil((overlap * (nCrops - 1) + origLen) / nCrops);
  for (let layer = 0; layer < nLayers; layer++) {
    const nCropsPerSide = 2 ** (layer + 1);
    const overlap = Math.trunc(overlapRatio * shortSide * (2 / nCropsPerSide));
    const cropW = cropLen(imW, nCropsPerSide, overlap);
    const cropH = cropLen(imH, nCropsPerSide, overlap);
    const x0s = Array.from({ length: nCropsPerSide }, (_, i) => Math.trunc((cropW - overlap) * i));
    const y0s = Array.from({ length: nCropsPerSide }, (_, i) => Math.trunc((cropH - overlap) * i));
    for (const x0 of x0s) {
      for (const y0 of y0s) {
        out.push({ box: [x0, y0, Math.min(x0 + cropW, imW), Math.min(y0 + cropH, imH)], layer: layer + 1 });
      }
    }
  }
  return out;
}
