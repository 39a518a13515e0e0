/**
 * The pixels of a slice as the canvas shows them, as pure functions on typed arrays (no DOM),
 * so Node tests check them and draw.ts only wraps them in ImageData.
 *
 * The slice is mapped through the window to gray (or RGB); committed labels are blended with
 * their colour at the chosen opacity (outlines opaque), the current object the same way in the
 * highlight colour. The blend of a filled pixel is `round(base * (1 - a) + colour * a)`, which
 * the browser tests check on the canvas.
 */
import { labelColour, windowRange, type PixelDtype, type WindowLevel } from "../common/state.js";

export type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Float32Array;
export type Rgb = readonly [number, number, number] | readonly number[];

/** The bytes of a binary model field (Uint8Array, DataView, ArrayBuffer or another view), or undefined. */
export function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/** Typed view of the pixel bytes (copied when the buffer offset is not aligned for the type). */
export function samplesOf(bytes: Uint8Array, dtype: PixelDtype): Samples {
  const Ctor = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array }[dtype];
  const size = Ctor.BYTES_PER_ELEMENT;
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new Ctor(src.buffer as ArrayBuffer, src.byteOffset, Math.floor(src.byteLength / size));
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}

export interface SliceShape {
  readonly width: number;
  readonly height: number;
  /** Samples per pixel: 1 gray, 3 RGB. */
  readonly channels: number;
}

/** Slice z of `samples` through the window, as opaque RGBA (NaN shows black). */
export function windowedSlice(samples: Samples, shape: SliceShape, z: number, win: WindowLevel): Uint8ClampedArray {
  const { width, height, channels } = shape;
  const n = width * height;
  const out = new Uint8ClampedArray(4 * n);
  const { low, scale } = windowRange(win);
  const offset = z * n * channels;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = samples[offset + i * channels + (channels === 1 ? 0 : c)]!;
      let g = (v - low) * scale;
      g = g !== g ? 0 : g < 0 ? 0 : g > 255 ? 255 : g;
      out[4 * i + c] = g;
    }
    out[4 * i + 3] = 255;
  }
  return out;
}

/** Mixes `colour` into RGBA pixel i with weight a. */
export function blend(out: Uint8ClampedArray, i: number, colour: Rgb, a: number): void {
  const p = 4 * i;
  out[p] = Math.round(out[p]! * (1 - a) + colour[0]! * a);
  out[p + 1] = Math.round(out[p + 1]! * (1 - a) + colour[1]! * a);
  out[p + 2] = Math.round(out[p + 2]! * (1 - a) + colour[2]! * a);
}

/** True when pixel i (at x, y) differs from a 4-neighbour or lies on the image border. */
export function isEdge(m: ArrayLike<number>, i: number, x: number, y: number, width: number, height: number): boolean {
  const v = m[i];
  return x === 0 || y === 0 || x === width - 1 || y === height - 1 || m[i - 1] !== v || m[i + 1] !== v || m[i - width] !== v || m[i + width] !== v;
}

export interface Overlay {
  /** Committed label ids of the slice (0 = none). */
  readonly labels?: ArrayLike<number> | undefined;
  /** The current object's 0/1 mask of the slice. */
  readonly current?: ArrayLike<number> | undefined;
  readonly palette: readonly (readonly [number, number, number])[];
  readonly highlight: Rgb;
  /** Fill opacity; outlines are always opaque. */
  readonly opacity: number;
  readonly outlineOnly: boolean;
}

/**
 * The shown slice into `out` (RGBA, e.g. an ImageData's own array): `base` with the labels,
 * then the current object, blended in. `base` is left unchanged. Returns `out`.
 */
export function composeSlice<T extends Uint8ClampedArray>(out: T, base: Uint8ClampedArray, width: number, height: number, o: Overlay): T {
  out.set(base);
  const paint = (mask: ArrayLike<number>, colourOf: (v: number) => Rgb) => {
    for (let y = 0, i = 0; y < height; y++) {
      for (let x = 0; x < width; x++, i++) {
        const v = mask[i]!;
        if (!v) continue;
        const edge = isEdge(mask, i, x, y, width, height);
        if (o.outlineOnly && !edge) continue;
        blend(out, i, colourOf(v), edge ? 1 : o.opacity);
      }
    }
  };
  if (o.labels) paint(o.labels, (v) => labelColour(o.palette, v));
  if (o.current) paint(o.current, () => o.highlight);
  return out;
}

/** The label slice without the hidden labels (the slice itself when none is hidden). */
export function hideLabels<T extends ArrayLike<number>>(labels: T | undefined, hidden: ReadonlySet<number>): T | Uint16Array | undefined {
  if (!labels || hidden.size === 0) return labels;
  const out = new Uint16Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    out[i] = hidden.has(v) ? 0 : v;
  }
  return out;
}

/** The cursor readout: position, the pixel's value(s) and its label. */
export function cursorText(p: { x: number; y: number; z: number; depth: number; values: readonly number[]; label: number }): string {
  const value = p.values.map(formatValue).join(", ");
  return `x ${p.x}  y ${p.y}${p.depth > 1 ? `  z ${p.z}` : ""}  value ${value}${p.label ? `  label ${p.label}` : ""}`;
}
