/**
 * What the canvas shows, whatever the user passed: a 2D image (depth 1) or a volume seen
 * through one view (axial by default, radiological orientation, from kernel/io/volume-view).
 *
 * Two things come out of it:
 * - the pixels for the browser, slice-major in display order, in the smallest type that keeps
 *   the values (so window/level in the browser works on real values, e.g. Hounsfield units);
 * - per slice, the original-typed image for the encoder, and the way back from display slices
 *   to the source's own layout (voxel order for volumes), which `w.labels` and `save` use.
 */
import type { Image2D, PixelArray } from "../../../kernel/io/image.js";
import { extractSlice, viewMapping, writeSliceOf, type ViewMapping, type ViewName } from "../../../kernel/io/volume-view.js";
import { voxelCount, type Volume } from "../../../kernel/io/volume.js";
import type { PixelDtype } from "../common/state.js";

export type CanvasInput = Image2D | Volume;

export function isVolume(input: CanvasInput): input is Volume {
  return "dims" in input && Array.isArray((input as Volume).dims);
}

export interface CanvasSource {
  readonly kind: "image" | "volume";
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  /** Samples per pixel sent to the browser: 1 (gray) or 3 (RGB; alpha dropped). */
  readonly channels: number;
  readonly dtype: PixelDtype;
  readonly valueRange: [number, number];
  readonly pixelAspect: number;
  readonly orientation: { left: string; top: string; toward: string } | null;
  readonly volume?: Volume;
  readonly mapping?: ViewMapping;
  /** Slice z for the encoder, in the source's own value type. */
  sliceImage(z: number): Image2D;
  /** Display slices -> the source's layout (row-major image, or voxel order i fastest). */
  toSourceLayout<T extends Uint8Array | Uint16Array>(slices: ReadonlyMap<number, T>, make: (n: number) => T): T;
  /** The way in: a label map in the source's layout -> display slice z (row-major label ids). */
  sliceOfSourceLayout(data: PixelArray, z: number): ArrayLike<number>;
  /** Values a label map in the source's layout must have. */
  readonly voxels: number;
  /** All slices for the browser, little-endian bytes. Built on request: the widget sends it once. */
  pixelBytes(): Uint8Array;
}

function dtypeOf(data: PixelArray): PixelDtype {
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int16Array) return "int16";
  return "float32";
}

function allocate(dtype: PixelDtype, n: number): PixelArray {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint16":
      return new Uint16Array(n);
    case "int16":
      return new Int16Array(n);
    case "float32":
      return new Float32Array(n);
  }
}

/** Copies `image` (any channels) into `out` at `offset` with `channels` samples per pixel. */
function copyDisplay(image: Image2D, channels: number, out: PixelArray, offset: number): void {
  const n = image.width * image.height;
  const src = image.data;
  const c = image.channels;
  if (c === channels) {
    for (let i = 0; i < n * c; i++) out[offset + i] = src[i]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < channels; k++) out[offset + i * channels + k] = src[i * c + k]!;
  }
}

function finiteRange(data: ArrayLike<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return Number.isFinite(min) && Number.isFinite(max) ? [min, max] : [0, 1];
}

/**
 * The bytes of a display array this module allocated (so exactly its own buffer: no copy, which
 * matters for a 150 MB volume). Little-endian on every platform Node and browsers run on.
 */
function bytesOf(data: PixelArray): Uint8Array {
  if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return new Uint8Array(data.buffer, 0, data.byteLength);
}

function displayChannels(channels: number): number {
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`an image needs 1 or more channels, got ${channels}`);
  return channels >= 3 ? 3 : 1;
}

export function imageSource(image: Image2D): CanvasSource {
  const { width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`the image must be at least 1x1 pixels, got ${width}x${height}`);
  }
  if (image.data.length !== width * height * image.channels) {
    throw new Error(`the image data has ${image.data.length} values; ${width}x${height}x${image.channels} needs ${width * height * image.channels}`);
  }
  const channels = displayChannels(image.channels);
  const dtype = dtypeOf(image.data);
  let display: PixelArray | undefined;
  const displayData = () => {
    if (!display) {
      display = allocate(dtype, width * height * channels);
      copyDisplay(image, channels, display, 0);
    }
    return display;
  };
  return {
    kind: "image",
    width,
    height,
    depth: 1,
    channels,
    dtype,
    valueRange: finiteRange(displayData()),
    pixelAspect: 1,
    orientation: null,
    sliceImage(z) {
      if (z !== 0) throw new Error(`a 2D image has only slice 0, not ${z}`);
      return image;
    },
    toSourceLayout(slices, make) {
      const out = make(width * height);
      const s = slices.get(0);
      if (s) out.set(s);
      return out;
    },
    voxels: width * height,
    sliceOfSourceLayout: (data) => data,
    pixelBytes: () => bytesOf(displayData()),
  };
}

export function volumeSource(volume: Volume, view: ViewName = "axial"): CanvasSource {
  const mapping = viewMapping(volume, view);
  const { width, height, depth } = mapping;
  const channels = displayChannels(volume.channels);
  const dtype = dtypeOf(volume.data);
  const range = finiteRange(volume.data);
  const sizes = mapping.pixelSpacing;
  return {
    kind: "volume",
    width,
    height,
    depth,
    channels,
    dtype,
    valueRange: range,
    pixelAspect: sizes.x > 0 && sizes.y > 0 ? sizes.y / sizes.x : 1,
    orientation: { left: mapping.labels.left, top: mapping.labels.top, toward: mapping.labels.sliceToward },
    volume,
    mapping,
    sliceImage: (z) => extractSlice(volume, mapping, z),
    toSourceLayout(slices, make) {
      const out = make(voxelCount(volume.dims));
      for (const [z, s] of slices) writeSliceOf(out, volume.dims, mapping, z, s);
      return out;
    },
    voxels: voxelCount(volume.dims),
    sliceOfSourceLayout: (data, z) => extractSlice({ dims: volume.dims, affine: volume.affine, data, channels: 1 }, mapping, z).data,
    pixelBytes() {
      const n = width * height * channels;
      const out = allocate(dtype, n * depth);
      for (let z = 0; z < depth; z++) copyDisplay(extractSlice(volume, mapping, z), channels, out, z * n);
      return bytesOf(out);
    },
  };
}

export function canvasSource(input: CanvasInput, view?: ViewName): CanvasSource {
  return isVolume(input) ? volumeSource(input, view) : imageSource(input);
}
