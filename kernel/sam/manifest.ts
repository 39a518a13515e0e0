/**
 * `model.json`: what a model folder says about itself. The TypeScript side trusts nothing
 * else: file names, checksums, and the preprocessing the weights expect.
 */
import type { IntensitySpec } from "../intensity/spec.js";

export interface ModelFileEntry {
  /** File name relative to the model folder. */
  readonly file: string;
  /** Hex sha256 of the file; checked on load when present. */
  readonly sha256?: string;
}

export interface ModelManifest {
  /** Registry name, e.g. "medicosam", "sam-vit-b", "demo", "analytic-test". */
  readonly name: string;
  /** One line shown wherever results of this model are shown (e.g. "demo model ... not MedicoSAM"). */
  readonly notice?: string;
  /** Where the weights came from (URL, checkpoint checksum, training recipe). */
  readonly source: string;
  readonly encoder: ModelFileEntry;
  readonly decoder: ModelFileEntry & {
    /** Number of mask tokens the decoder returns: 4 (recommended) or 1. */
    readonly numMasks?: 1 | 4;
  };
  /**
   * The int8 encoder written by `medicosam quantize` (dynamic quantization of the MatMul
   * weights), chosen with `loadModel(..., { precision: "int8" })`.
   */
  readonly encoderInt8?: ModelFileEntry & {
    /** sha256 of the float32 encoder it was made from: a re-export makes it stale. */
    readonly fromSha256?: string;
    /** How it was made, e.g. "dynamic int8, per-column weight scales". */
    readonly method?: string;
  };
  /**
   * The rewritten float32 encoder of `medicosam optimize` (attention in chunks; same outputs
   * within `maxAbsDiff`), run instead of `encoder` on the CPU unless `optimized: false`.
   */
  readonly encoderOptimized?: ModelFileEntry & {
    /** sha256 of the encoder it was made from: a re-export makes it stale (and unused). */
    readonly fromSha256?: string;
    readonly method?: string;
    /** Largest output difference measured against the original when it was written. */
    readonly maxAbsDiff?: number;
  };
  readonly preprocessing?: {
    /** Encoder input side; SAM-family models use 1024. */
    readonly imageSize?: number;
    readonly pixelMean?: readonly [number, number, number];
    readonly pixelStd?: readonly [number, number, number];
    /** Intensity mode the model was trained with; the default when the user names none. */
    readonly intensity?: IntensitySpec;
  };
}
