/**
 * The automatic generator's proposals in one view: their masks decoded once (from the base64
 * RLE they travel as), drawn as outlines on the composed slice, and found under a click
 * (common/proposals.ts's rule: the smallest one there).
 */
import { decodeRle, fromBase64 } from "../common/mask-codec.js";
import { proposalAt } from "../common/proposals.js";
import { labelColour, type WireProposal } from "../common/state.js";
import { isEdge } from "./compose.js";

export class ProposalLayer {
  private list: readonly WireProposal[] = [];
  private readonly masks = new Map<number, Uint8Array>();
  private width = 0;
  private height = 0;

  update(list: readonly WireProposal[] | undefined, width: number, height: number): void {
    this.list = list ?? [];
    if (width !== this.width || height !== this.height) this.masks.clear();
    this.width = width;
    this.height = height;
    const ids = new Set(this.list.map((p) => p.id));
    for (const id of [...this.masks.keys()]) if (!ids.has(id)) this.masks.delete(id);
  }

  get count(): number {
    return this.list.length;
  }

  onSlice(z: number): WireProposal[] {
    return this.list.filter((p) => p.z === z);
  }

  /** The proposal a click at pixel (x, y) of slice z means, if any. */
  at(z: number, x: number, y: number): WireProposal | undefined {
    if (y < 0 || y >= this.height) return undefined;
    return proposalAt(this.list, z, x, y, this.width, (p) => this.mask(p));
  }

  /** Outlines of slice z's proposals into an RGBA image of the slice, each in its own palette colour. */
  paint(out: Uint8ClampedArray, z: number, palette: readonly (readonly [number, number, number])[]): void {
    const { width, height } = this;
    for (const p of this.onSlice(z)) {
      const m = this.mask(p);
      const [r, g, b] = labelColour(palette, p.id);
      const [bx, by, bw, bh] = p.bbox;
      for (let y = by; y <= Math.min(by + bh, height - 1); y++) {
        for (let x = bx, i = y * width + bx; x <= Math.min(bx + bw, width - 1); x++, i++) {
          if (!m[i] || !isEdge(m, i, x, y, width, height)) continue;
          out[4 * i] = r;
          out[4 * i + 1] = g;
          out[4 * i + 2] = b;
          out[4 * i + 3] = 255;
        }
      }
    }
  }

  private mask(p: WireProposal): Uint8Array {
    let m = this.masks.get(p.id);
    if (!m) {
      m = decodeRle(fromBase64(p.mask), this.width * this.height);
      this.masks.set(p.id, m);
    }
    return m;
  }
}
