/**
 * Image types shared by io, intensity and SAM preprocessing.
 *
 * Pixels are always row-major with interleaved channels (HWC), because that is how every
 * decoder we use hands them over and how the reference (numpy HWC arrays) indexes them.
 */

/** Any numeric pixel buffer a decoder or a user may hand us. */
export type PixelArray =
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** A decoded 2D image of any type and channel count (1 = gray, 3 = RGB, ...). */
export interface Image2D {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: PixelArray;
}

/** What the SAM encoder sees before resizing: 3-channel uint8, HWC. */
export interface RgbImage8 {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Height and width in pixels, named so that the order cannot be confused. */
export interface Size2D {
  readonly height: number;
  readonly width: number;
}
