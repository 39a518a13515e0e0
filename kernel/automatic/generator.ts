/**
 * segment_anything's `SamAutomaticMaskGenerator`: masks for everything in an image from a grid
 * of single-point prompts, filtered by predicted IoU and stability, deduplicated by box NMS
 * within and between crops, optionally cleaned of small holes and islands. Every rule, its
 * order and the order of the output follow `automatic_mask_generator.py` and `utils/amg.py`;
 * each function below names the upstream one it reproduces.
 */
import type { Image2D, RgbImage8, Size2D } from "../io/image.js";
import { toRgb8 } from "../intensity/normalize.js";
import type { Embedding } from "../sam/embedding.js";
import { LOW_RES_SIDE } from "../sam/decoder.js";
import type { SamModel } from "../sam/model.js";
import { boxXyxyToXywh, isBoxNearCropEdge, maskToBox, uncropBox } from "./boxes.js";
import { Upscaler } from "./full-resolution.js";
import { buildAllLayerPointGrids, generateCropBoxes, type BoxXyxy } from "./grid.js";
import { nms } from "./nms.js";
import { MASK_THRESHOLD, resolveOptions, type AutomaticOptions, type ResolvedOptions } from "./options.js";
import { DecoderPool } from "./decoder-pool.js";
import { PointDecoder, type PointDecoding } from "./point-decoder.js";
import { areaFromRle, maskToRle, rleToMask, type UncompressedRle } from "./rle.js";
import { removeSmallRegions } from "./small-regions.js";
import { stabilityFromCounts, stabilityThresholds } from "./stability.js";

/** One mask, with segment_anything's record keys (`output_mode="binary_mask"`). */
export interface MaskRecord {
  /** Row-major height*width, 1 = in the mask. */
  readonly segmentation: Uint8Array;
  /** [height, width] of `segmentation` (the image's size). */
  readonly size: [number, number];
  readonly area: number;
  /** [x, y, w, h] with w = right - left, h = bottom - top of the inclusive pixel box (SAM's convention). */
  readonly bbox: [number, number, number, number];
  readonly predicted_iou: number;
  /** [[x, y]]: the grid point that produced the mask, in image pixels. */
  readonly point_coords: [[number, number]];
  readonly stability_score: number;
  /** [x, y, w, h] of the crop it came from. */
  readonly crop_box: [number, number, number, number];
}

/** A mask between the steps, as segment_anything's `MaskData` holds it (RLE, XYXY boxes). */
interface Candidate {
  rle: UncompressedRle;
  box: BoxXyxy;
  readonly iou: number;
  point: [number, number];
  readonly stability: number;
  cropBox: BoxXyxy;
}

const f32 = Math.fround;

export function isEmbedding(x: Image2D | Embedding): x is Embedding {
  return (x as Embedding).originalSize !== undefined && (x as Embedding).key !== undefined;
}

function cropRgb(rgb: RgbImage8, box: BoxXyxy): RgbImage8 {
  const [x0, y0, x1, y1] = box;
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    data.set(rgb.data.subarray(((y0 + y) * rgb.width + x0) * 3, ((y0 + y) * rgb.width + x1) * 3), y * width * 3);
  }
  return { width, height, data };
}

/** segment_anything's `uncrop_masks`: zero-pads a crop-sized mask into the image. */
function uncropMask(mask: Uint8Array, crop: BoxXyxy, image: Size2D): Uint8Array {
  const [x0, y0, x1, y1] = crop;
  if (x0 === 0 && y0 === 0 && x1 === image.width && y1 === image.height) return mask;
  const w = x1 - x0;
  const out = new Uint8Array(image.width * image.height);
  for (let y = 0; y < y1 - y0; y++) out.set(mask.subarray(y * w, (y + 1) * w), (y0 + y) * image.width + x0);
  return out;
}

export interface GeneratorInternals {
  /**
   * Take the full-resolution logits from the decoder's own `masks` output for every token
   * (the decoder as exported, stability counted in JS) instead of upscaling only the masks
   * that pass the predicted-IoU filter. Same results, slower: the reference the tests and the
   * benchmark compare with.
   */
  readonly fullResolutionInDecoder?: boolean;
}

/** Decodes a batch of points, in their order: one session here, or a pool of workers. */
type BatchDecoder = (embedding: Embedding, points: readonly [number, number][], signal: AbortSignal | undefined) => Promise<PointDecoding[]>;

interface Sessions {
  decode: BatchDecoder;
  withMasks: boolean;
  upscaler: Upscaler;
  release(): Promise<void>;
}

/**
 * segment_anything's `SamAutomaticMaskGenerator` over one loaded model. Keep one for many
 * images (a volume's slices): it holds two small onnxruntime sessions; `dispose()` frees them.
 */
export class AutomaticMaskGenerator {
  readonly options: ResolvedOptions;
  private sessions: Promise<Sessions> | undefined;

  constructor(
    readonly model: SamModel,
    private readonly userOptions: AutomaticOptions = {},
    private readonly internals: GeneratorInternals = {},
  ) {
    this.options = resolveOptions(userOptions, buildAllLayerPointGrids);
  }

  private load(): Promise<Sessions> {
    this.sessions ??= (async () => {
      const imageSize = this.model.manifest.preprocessing?.imageSize ?? 1024;
      const withMasks = this.internals.fullResolutionInDecoder ?? false;
      // The reference path keeps its one session: it is what the pool is compared with.
      const workers = withMasks ? 0 : this.options.decoderWorkers;
      const upscaler = await Upscaler.create(imageSize);
      if (workers > 0) {
        const pool = await DecoderPool.create(this.model.decoderPath, workers);
        return {
          decode: (embedding, points, signal) => {
            signal?.throwIfAborted();
            return pool.decodeAll(embedding, points.map(([x, y]) => ({ x, y })));
          },
          withMasks: false,
          upscaler,
          release: async () => void (await Promise.all([pool.release(), upscaler.release()])),
        };
      }
      const decoder = await PointDecoder.load(this.model.decoderPath, withMasks);
      return {
        decode: async (embedding, points, signal) => {
          const out: PointDecoding[] = [];
          for (const [x, y] of points) {
            signal?.throwIfAborted();
            out.push(await decoder.decode(embedding, { x, y }));
          }
          return out;
        },
        withMasks,
        upscaler,
        release: async () => void (await Promise.all([decoder.release(), upscaler.release()])),
      };
    })();
    return this.sessions;
  }

  /**
   * segment_anything's `SamAutomaticMaskGenerator.generate`. An embedding is enough without
   * crops; crops (cropNLayers > 0) embed parts of the image, so they need the image.
   */
  async generate(input: Image2D | Embedding, options: Pick<AutomaticOptions, "signal" | "onProgress" | "intensity"> = {}): Promise<MaskRecord[]> {
    // In the Jupyter kernel the model carries the kernel's interrupt (Kernel > Interrupt stops the run).
    const signal = options.signal ?? this.userOptions.signal ?? this.model.interruptSignal?.();
    const onProgress = options.onProgress ?? this.userOptions.onProgress;
    const o = this.options;
    signal?.throwIfAborted();
    let size: Size2D;
    let rgb: RgbImage8 | undefined;
    let fullEmbedding: Embedding | undefined;
    if (isEmbedding(input)) {
      if (o.cropNLayers > 0) throw new Error("cropNLayers > 0 embeds crops of the image: pass the image, not an embedding.");
      if (input.modelName !== this.model.name) {
        throw new Error(`this embedding was computed by model '${input.modelName}', not '${this.model.name}'; embed the image with this model.`);
      }
      fullEmbedding = input;
      size = input.originalSize;
    } else {
      // SAM crops the uint8 image it was given; ours is the image after the intensity mapping.
      rgb = toRgb8(input, options.intensity ?? this.userOptions.intensity ?? this.model.defaultIntensity);
      size = { height: rgb.height, width: rgb.width };
    }
    const sessions = await this.load();
    const crops = generateCropBoxes(size, o.cropNLayers, o.cropOverlapRatio);
    const total = crops.reduce((s, c) => s + o.pointGrids[c.layer]!.length, 0);
    let done = 0;
    const all: Candidate[] = [];
    for (const crop of crops) {
      signal?.throwIfAborted();
      let embedding: Embedding;
      if (fullEmbedding) embedding = fullEmbedding;
      else {
        const part = cropRgb(rgb!, crop.box);
        embedding = await this.model.embed({ width: part.width, height: part.height, channels: 3, data: part.data }, { intensity: { mode: "none" }, ...(signal ? { signal } : {}) });
      }
      const found = await this.processCrop(embedding, crop.box, o.pointGrids[crop.layer]!, size, sessions, signal, (n) => {
        done += n;
        onProgress?.(done, total);
      });
      all.push(...found);
    }
    let data = all;
    if (crops.length > 1) {
      // `_generate_masks`: duplicates between crops, preferring masks from smaller crops.
      const scores = data.map((d) => f32(1 / ((d.cropBox[2] - d.cropBox[0]) * (d.cropBox[3] - d.cropBox[1]))));
      data = nms(data.map((d) => d.box), scores, o.cropNmsThresh).map((i) => data[i]!);
    }
    if (o.minMaskRegionArea > 0) data = postprocessSmallRegions(data, o.minMaskRegionArea, Math.max(o.boxNmsThresh, o.cropNmsThresh));
    return data.map((d) => ({
      segmentation: rleToMask(d.rle),
      size: [size.height, size.width],
      area: areaFromRle(d.rle),
      bbox: boxXyxyToXywh(d.box),
      predicted_iou: d.iou,
      point_coords: [d.point],
      stability_score: d.stability,
      crop_box: boxXyxyToXywh(d.cropBox),
    }));
  }

  /** segment_anything's `_process_crop`: the crop's grid in batches, then NMS by predicted IoU. */
  private async processCrop(
    embedding: Embedding,
    crop: BoxXyxy,
    grid: readonly { x: number; y: number }[],
    image: Size2D,
    sessions: Sessions,
    signal: AbortSignal | undefined,
    progress: (n: number) => void,
  ): Promise<Candidate[]> {
    const cropSize = embedding.originalSize;
    // `points_scale = [w, h]`: grid points are in the crop's own pixels.
    const points = grid.map((p) => [p.x * cropSize.width, p.y * cropSize.height] as [number, number]);
    const batches: [number, number][][] = [];
    for (let start = 0; start < points.length; start += this.options.pointsPerBatch) batches.push(points.slice(start, start + this.options.pointsPerBatch));
    const data: Candidate[] = [];
    // The next batch is decoded (in the pool's workers) while this thread filters, upscales and
    // encodes the current one; the order of the records does not change.
    let next = batches.length > 0 ? sessions.decode(embedding, batches[0]!, signal) : undefined;
    for (const [b, batch] of batches.entries()) {
      const decoded = await next!;
      next = b + 1 < batches.length ? sessions.decode(embedding, batches[b + 1]!, signal) : undefined;
      // If this batch throws (an interrupt), the decode in flight must not become an unhandled rejection.
      next?.catch(() => undefined);
      signal?.throwIfAborted();
      data.push(...(await this.processBatch(embedding, batch, decoded, crop, image, sessions)));
      progress(batch.length);
    }
    const keep = nms(data.map((d) => d.box), data.map((d) => d.iou), this.options.boxNmsThresh);
    return keep.map((i) => {
      const d = data[i]!;
      return { ...d, box: uncropBox(d.box, crop), point: [d.point[0] + crop[0], d.point[1] + crop[1]] };
    });
  }

  /**
   * segment_anything's `_process_batch` on the decoded points (tokens 1..3, point-major order):
   * keep predicted IoU > predIouThresh, then stability >= stabilityScoreThresh on the
   * full-resolution logits, threshold, box, drop masks cut by the crop's edge, uncrop, RLE.
   */
  private async processBatch(
    embedding: Embedding,
    points: [number, number][],
    decoded: readonly PointDecoding[],
    crop: BoxXyxy,
    image: Size2D,
    sessions: Sessions,
  ): Promise<Candidate[]> {
    const o = this.options;
    const cropSize = embedding.originalSize;
    const pixels = cropSize.height * cropSize.width;
    const planeLength = LOW_RES_SIDE * LOW_RES_SIDE;
    const kept: { point: [number, number]; iou: number; lowRes: Float32Array; logits?: Float32Array }[] = [];
    for (const [p, point] of points.entries()) {
      const out = decoded[p]!;
      for (let t = 0; t < out.ious.length; t++) {
        const iou = out.ious[t]!;
        // PyTorch compares a float32 tensor with a Python float in float32.
        if (o.predIouThresh > 0 && !(iou > f32(o.predIouThresh))) continue;
        kept.push({
          point,
          iou,
          lowRes: out.lowRes.subarray(t * planeLength, (t + 1) * planeLength),
          ...(out.masks ? { logits: out.masks.subarray(t * pixels, (t + 1) * pixels) } : {}),
        });
      }
    }
    if (kept.length === 0) return [];
    const thresholds = { mask: f32(MASK_THRESHOLD), ...stabilityThresholds(MASK_THRESHOLD, o.stabilityScoreOffset) };
    let masks: Uint8Array[];
    let aboveHigh: ArrayLike<number>;
    let aboveLow: ArrayLike<number>;
    if (sessions.withMasks) {
      ({ masks, aboveHigh, aboveLow } = countLogits(kept.map((k) => k.logits!), thresholds));
    } else {
      const lowRes = new Float32Array(kept.length * planeLength);
      kept.forEach((k, i) => lowRes.set(k.lowRes, i * planeLength));
      ({ masks, aboveHigh, aboveLow } = await sessions.upscaler.run(lowRes, cropSize, thresholds));
    }
    const imageBox: BoxXyxy = [0, 0, image.width, image.height];
    const out: Candidate[] = [];
    kept.forEach((k, i) => {
      const stability = stabilityFromCounts(aboveHigh[i]!, aboveLow[i]!);
      if (o.stabilityScoreThresh > 0 && !(stability >= f32(o.stabilityScoreThresh))) return;
      const box = maskToBox(masks[i]!, cropSize.width, cropSize.height);
      if (isBoxNearCropEdge(box, crop, imageBox)) return;
      const full = uncropMask(masks[i]!, crop, image);
      out.push({ rle: maskToRle(full, image.width, image.height), box, iou: k.iou, point: k.point, stability, cropBox: crop });
    });
    return out;
  }

  async dispose(): Promise<void> {
    const s = await this.sessions;
    this.sessions = undefined;
    await s?.release();
  }
}

/** Threshold and stability counts of float logits (the reference path). */
function countLogits(
  logits: Float32Array[],
  t: { mask: number; high: number; low: number },
): { masks: Uint8Array[]; aboveHigh: Int32Array; aboveLow: Int32Array } {
  const aboveHigh = new Int32Array(logits.length);
  const aboveLow = new Int32Array(logits.length);
  const masks = logits.map((l, i) => {
    const m = new Uint8Array(l.length);
    let hi = 0;
    let lo = 0;
    for (let p = 0; p < l.length; p++) {
      const v = l[p]!;
      if (v > t.mask) m[p] = 1;
      if (v > t.high) hi++;
      if (v > t.low) lo++;
    }
    aboveHigh[i] = hi;
    aboveLow[i] = lo;
    return m;
  });
  return { masks, aboveHigh, aboveLow };
}

/**
 * segment_anything's `postprocess_small_regions`: fill small holes, drop small islands, then
 * NMS on the new boxes preferring masks that needed no change (score 1 vs 0); changed masks
 * that survive get their new RLE and box.
 */
function postprocessSmallRegions(data: Candidate[], minArea: number, nmsThresh: number): Candidate[] {
  if (data.length === 0) return data;
  const masks: Uint8Array[] = [];
  const scores: number[] = [];
  const boxes: BoxXyxy[] = [];
  for (const d of data) {
    const [h, w] = d.rle.size;
    const holes = removeSmallRegions(rleToMask(d.rle), w, h, minArea, "holes");
    const islands = removeSmallRegions(holes.mask, w, h, minArea, "islands");
    masks.push(islands.mask);
    scores.push(holes.changed || islands.changed ? 0 : 1);
    boxes.push(maskToBox(islands.mask, w, h));
  }
  return nms(boxes, scores, nmsThresh).map((i) => {
    const d = data[i]!;
    if (scores[i] === 1) return d;
    const [h, w] = d.rle.size;
    return { ...d, rle: maskToRle(masks[i]!, w, h), box: boxes[i]! };
  });
}

/**
 * Masks for everything in `input` (an image, or its embedding when there are no crops), as
 * segment_anything's `SamAutomaticMaskGenerator(model, **options).generate(image)` returns them.
 */
export async function generateMasks(model: SamModel, input: Image2D | Embedding, options: AutomaticOptions = {}): Promise<MaskRecord[]> {
  const generator = new AutomaticMaskGenerator(model, options);
  try {
    return await generator.generate(input);
  } finally {
    await generator.dispose();
  }
}
