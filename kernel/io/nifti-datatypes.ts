/**
 * NIfTI datatype codes and how each maps to a JavaScript typed array.
 *
 * One table serves the reader, the writer and `medicosam info`, so a datatype that can be
 * written can also be read back, and the names printed are the ones nibabel and the NIfTI
 * header (nifti1.h) use.
 */
import type { PixelArray } from "./image.js";

export type NiftiDatatypeName =
  | "uint8"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "float32"
  | "float64"
  | "rgb24"
  | "rgba32";

export interface NiftiDatatype {
  readonly code: number;
  readonly name: NiftiDatatypeName;
  /** Bytes of one stored component (rgb24: 1 byte per channel). */
  readonly bytesPerComponent: number;
  /** Components per voxel: 1, or 3/4 for RGB(A). */
  readonly components: number;
  readonly kind: "uint" | "int" | "float";
}

const TABLE: readonly NiftiDatatype[] = [
  { code: 2, name: "uint8", bytesPerComponent: 1, components: 1, kind: "uint" },
  { code: 4, name: "int16", bytesPerComponent: 2, components: 1, kind: "int" },
  { code: 8, name: "int32", bytesPerComponent: 4, components: 1, kind: "int" },
  { code: 16, name: "float32", bytesPerComponent: 4, components: 1, kind: "float" },
  { code: 64, name: "float64", bytesPerComponent: 8, components: 1, kind: "float" },
  { code: 128, name: "rgb24", bytesPerComponent: 1, components: 3, kind: "uint" },
  { code: 256, name: "int8", bytesPerComponent: 1, components: 1, kind: "int" },
  { code: 512, name: "uint16", bytesPerComponent: 2, components: 1, kind: "uint" },
  { code: 768, name: "uint32", bytesPerComponent: 4, components: 1, kind: "uint" },
  { code: 1024, name: "int64", bytesPerComponent: 8, components: 1, kind: "int" },
  { code: 1280, name: "uint64", bytesPerComponent: 8, components: 1, kind: "uint" },
  { code: 2304, name: "rgba32", bytesPerComponent: 1, components: 4, kind: "uint" },
];

/**
 * Codes that exist in nifti1.h but that a label/intensity volume cannot hold. Refused with
 * their name, so the user learns what the file is rather than "unknown datatype".
 */
const REFUSED: Readonly<Record<number, string>> = {
  0: "DT_UNKNOWN (0): the header does not say how voxels are stored",
  1: "binary (1): 1-bit packed voxels (nibabel does not read them either)",
  32: "complex64 (32): complex voxels; save the magnitude or the real part as float32 first",
  1536: "float128 (1536): 128-bit floats have no JavaScript equivalent; save as float64 first",
  1792: "complex128 (1792): complex voxels; save the magnitude or the real part as float64 first",
  2048: "complex256 (2048): complex voxels with 128-bit parts; save the magnitude as float64 first",
};

export function datatypeByCode(code: number): NiftiDatatype {
  const found = TABLE.find((t) => t.code === code);
  if (found) return found;
  const refused = REFUSED[code];
  if (refused) throw new Error(`NIfTI datatype not supported: ${refused}.`);
  throw new Error(
    `unknown NIfTI datatype code ${code}; known codes: ${TABLE.map((t) => `${t.code} (${t.name})`).join(", ")}. ` +
      `The header is probably damaged.`,
  );
}

export function datatypeByName(name: NiftiDatatypeName): NiftiDatatype {
  const found = TABLE.find((t) => t.name === name);
  if (!found) throw new Error(`unknown NIfTI datatype name '${name}'`);
  return found;
}

export const ALL_DATATYPES: readonly NiftiDatatype[] = TABLE;

/**
 * The typed array that holds this datatype's stored values without loss, one element per
 * component. 64-bit integers become float64: exact up to 2^53, and the reader reports
 * when a file holds larger magnitudes (see nifti-voxels.ts).
 */
export function allocateStored(dt: NiftiDatatype, length: number): PixelArray {
  switch (dt.name) {
    case "uint8":
    case "rgb24":
    case "rgba32":
      return new Uint8Array(length);
    case "int8":
      return new Int8Array(length);
    case "int16":
      return new Int16Array(length);
    case "uint16":
      return new Uint16Array(length);
    case "int32":
      return new Int32Array(length);
    case "uint32":
      return new Uint32Array(length);
    case "float32":
      return new Float32Array(length);
    case "float64":
    case "int64":
    case "uint64":
      return new Float64Array(length);
  }
}

/**
 * The array type of scaled values, following nibabel's choice (float32 scale factors
 * promoted with the stored type): float32 for types that float32 represents exactly
 * (8/16-bit integers, float32), float64 for the rest.
 */
/** Bytes per component of the array the reader returns (allocateStored or allocateScaled). */
export function outputBytesPerComponent(dt: NiftiDatatype, scaled: boolean): number {
  if (scaled) return dt.bytesPerComponent <= 2 || dt.name === "float32" ? 4 : 8;
  return dt.name === "int64" || dt.name === "uint64" ? 8 : dt.bytesPerComponent;
}

export function allocateScaled(dt: NiftiDatatype, length: number): Float32Array | Float64Array {
  return dt.bytesPerComponent <= 2 || dt.name === "float32" ? new Float32Array(length) : new Float64Array(length);
}
