import type { Size2D } from "../io/image.js";

/** Side of the encoder's output grid and its channel count (SAM ViT-B: 256 x 64 x 64). */
export const EMBEDDING_CHANNELS = 256;
export const EMBEDDING_SIDE = 64;
export const EMBEDDING_LENGTH = EMBEDDING_CHANNELS * EMBEDDING_SIDE * EMBEDDING_SIDE;

/**
 * The encoder's output for one image. It carries the sizes the decoder needs, so a
 * segment() call cannot pair an embedding with the wrong image geometry.
 */
export interface Embedding {
  /** [256, 64, 64] float32, channel-major (the encoder's NCHW output without N). */
  readonly data: Float32Array;
  /** (H, W) of the image that was embedded, in its own pixels. */
  readonly originalSize: Size2D;
  /** (H, W) after the longest-side resize to the encoder's input size (before padding). */
  readonly resizedSize: Size2D;
  /** Name of the model (model.json `name`) that produced it. */
  readonly modelName: string;
  /** Cache key: pixels + model + preprocessing. Equal keys mean interchangeable embeddings. */
  readonly key: string;
}
