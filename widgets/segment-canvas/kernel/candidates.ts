/**
 * "One click, three answers": after a single click SAM's decoder returns a mask per multimask
 * token (1..3) with its predicted IoU, and micro_sam's rule keeps the one with the highest
 * (docs/inference.md §6). The canvas keeps the other two so the user can see why SAM hesitated
 * and pick another (keys 1-3, `w.pickCandidate(k)`). Only the click the current mask answers
 * has candidates; any other prompt (a second point, a box) drops them.
 */
import type { SegmentResult } from "../../../kernel/sam/segment-result.js";
import { decodeRle, encodeRle, toBase64 } from "../common/mask-codec.js";
import { promptKey, promptsOnSlice, type PickAction, type Snapshot } from "../common/reducer.js";
import { ActionError, type CandidateSet } from "../common/state.js";

/** The multimask tokens offered (token 0 is the single-mask answer, for prompts that are not ambiguous). */
export const CANDIDATE_TOKENS = [1, 2, 3] as const;

interface Offer {
  readonly z: number;
  readonly key: string;
  readonly items: readonly { readonly token: number; readonly iou: number; readonly chosen: boolean; readonly area: number; readonly rle: Uint8Array }[];
}

/** A candidate as `w.candidates` gives it: the mask decoded (0/1, the slice, row-major). */
export interface Candidate {
  readonly token: number;
  readonly iou: number;
  /** micro_sam's rule picked it. */
  readonly chosen: boolean;
  /** The current mask is this one. */
  readonly shown: boolean;
  readonly area: number;
  readonly mask: Uint8Array;
}

/** Is slice z prompted by exactly one point (the ambiguous prompt SAM answers three ways)? */
function singleClick(s: Snapshot, z: number): boolean {
  const { points, box } = promptsOnSlice(s.prompts, z);
  return points.length === 1 && box === undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Candidates {
  private offer: Offer | undefined;

  /** A decoder result for slice z's prompts (`key`): kept when it answers a single click with multimask tokens. */
  offerResult(s: Snapshot, z: number, key: string, result: SegmentResult): void {
    const items = result.candidates.filter((c) => (CANDIDATE_TOKENS as readonly number[]).includes(c.token));
    if (!singleClick(s, z) || items.length < CANDIDATE_TOKENS.length) return;
    this.offer = {
      z,
      key,
      items: items.map((c) => {
        let area = 0;
        for (let i = 0; i < c.mask.length; i++) area += c.mask[i]!;
        return { token: c.token, iou: c.iou, chosen: c.chosen, area, rle: encodeRle(c.mask) };
      }),
    };
  }

  /** The offer, if the present still has its click (its mask may since have been picked or painted). */
  private valid(s: Snapshot): Offer | undefined {
    const o = this.offer;
    if (!o || !singleClick(s, o.z) || promptKey(s.prompts, o.z) !== o.key || s.current.get(o.z)?.source !== o.key) return undefined;
    return o;
  }

  /** Token the present mask of the click is (0 when none is: painted over). */
  private shown(s: Snapshot, o: Offer): number {
    const rle = s.current.get(o.z)?.rle;
    return (rle && o.items.find((c) => sameBytes(c.rle, rle))?.token) || 0;
  }

  /** What the views are sent: null when the present has no single click with candidates. */
  wire(s: Snapshot): CandidateSet | null {
    const o = this.valid(s);
    if (!o) return null;
    return { z: o.z, shown: this.shown(s, o), items: o.items.map((c) => ({ token: c.token, iou: c.iou, chosen: c.chosen, area: c.area, mask: toBase64(c.rle) })) };
  }

  /** `w.candidates`: the masks decoded. */
  list(s: Snapshot, pixels: number): { z: number; items: Candidate[] } | null {
    const o = this.valid(s);
    if (!o) return null;
    const shown = this.shown(s, o);
    return { z: o.z, items: o.items.map((c) => ({ token: c.token, iou: c.iou, chosen: c.chosen, shown: c.token === shown, area: c.area, mask: decodeRle(c.rle, pixels) })) };
  }

  /** The history step that shows candidate `token` instead. */
  pick(s: Snapshot, token: number): PickAction {
    const o = this.valid(s);
    if (!o) throw new ActionError("no candidates to pick from: click the object once (one point, no box), then press 1, 2 or 3");
    const c = o.items.find((i) => i.token === token);
    if (!c) throw new ActionError(`there is no candidate ${token}; the candidates are ${o.items.map((i) => i.token).join(", ")}`);
    return { type: "pick", z: o.z, key: o.key, rle: c.rle };
  }
}
