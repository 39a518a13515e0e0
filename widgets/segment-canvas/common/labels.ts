/**
 * Committed objects -> label map, slice by slice (later objects paint over earlier ones, as
 * micro_sam's commit does). Only slices some object touches are allocated, so a 300-slice CT
 * with three organs holds a few dozen slices, not the volume.
 *
 * Kept in step with the history incrementally: a commit appends one object and paints only
 * that object; anything else (undo, remove) repaints from the objects, which are the truth.
 */
import { decodeRle, encodeRle, encodeStack, type StackShape } from "./mask-codec.js";
import type { CommittedObject } from "./reducer.js";

export class LabelStore {
  private painted: readonly CommittedObject[] = [];
  private readonly slices = new Map<number, Uint16Array>();
  /** RLE of each label slice, dropped when the slice changes. */
  private readonly encoded = new Map<number, Uint8Array>();
  private scratch: Uint8Array;

  constructor(private readonly shape: StackShape) {
    this.scratch = new Uint8Array(shape.width * shape.height);
  }

  /** Brings the map in line with `objects`; returns true when anything changed. */
  sync(objects: readonly CommittedObject[]): boolean {
    if (objects === this.painted) return false;
    const appended =
      objects.length === this.painted.length + 1 && this.painted.every((o, i) => objects[i] === o);
    if (appended) {
      this.paint(objects[objects.length - 1]!);
    } else {
      this.slices.clear();
      this.encoded.clear();
      for (const o of objects) this.paint(o);
    }
    this.painted = objects;
    return true;
  }

  private paint(object: CommittedObject): void {
    const n = this.shape.width * this.shape.height;
    for (const [z, rle] of object.slices) {
      const mask = decodeRle(rle, n, this.scratch);
      let slice = this.slices.get(z);
      if (!slice) {
        slice = new Uint16Array(n);
        this.slices.set(z, slice);
      }
      for (let i = 0; i < n; i++) if (mask[i]) slice[i] = object.label;
      this.encoded.delete(z);
    }
  }

  /** Label slice z (row-major), or undefined when no object touches it. Do not modify. */
  slice(z: number): Uint16Array | undefined {
    return this.slices.get(z);
  }

  /** Slices some object touches, ascending. */
  get touched(): number[] {
    return [...this.slices.keys()].sort((a, b) => a - b);
  }

  /** The whole map as a mask-codec stack, for the front end. */
  encode(): Uint8Array {
    const rles = new Map<number, Uint8Array>();
    for (const [z, slice] of this.slices) {
      let rle = this.encoded.get(z);
      if (!rle) {
        rle = encodeRle(slice);
        this.encoded.set(z, rle);
      }
      rles.set(z, rle);
    }
    return encodeStack(this.shape, rles);
  }

  /** Voxels per label, counted on the painted map (what is visible after overlaps). */
  counts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const slice of this.slices.values()) {
      for (let i = 0; i < slice.length; i++) {
        const v = slice[i]!;
        if (v) out.set(v, (out.get(v) ?? 0) + 1);
      }
    }
    return out;
  }
}
