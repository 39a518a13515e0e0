/**
 * SAM's candidate masks in the canvas, the shared and view parts: the pick action's checks, its
 * undo step in the history, the keys 1-3 and the thumbnails' crop.
 */
import { describe, expect, it } from "vitest";
import { thumbnailCrop } from "../widgets/segment-canvas/browser/thumbnail.js";
import { bindingFor, helpLine } from "../widgets/segment-canvas/browser/keys.js";
import { encodeRle } from "../widgets/segment-canvas/common/mask-codec.js";
import { canUndo, initialHistory, present, promptKey, reduce, type History, type ReducerAction } from "../widgets/segment-canvas/common/reducer.js";
import { parseAction } from "../widgets/segment-canvas/common/state.js";

const bounds = { width: 8, height: 4, depth: 2 };
const N = 8 * 4;

function mask(...on: number[]): Uint8Array {
  const m = new Uint8Array(N);
  for (const i of on) m[i] = 1;
  return m;
}

describe("the pick_candidate action", () => {
  it("takes a token 1..3 and nothing else", () => {
    expect(parseAction({ type: "pick_candidate", token: 2 }, bounds)).toEqual({ type: "pick_candidate", token: 2 });
    expect(() => parseAction({ type: "pick_candidate", token: 0 }, bounds)).toThrow(/'token' = 0 is outside 1..3/);
    expect(() => parseAction({ type: "pick_candidate", token: 4 }, bounds)).toThrow(/outside 1..3/);
    expect(() => parseAction({ type: "pick_candidate", token: 1.5 }, bounds)).toThrow(/must be an integer/);
    expect(() => parseAction({ type: "pick_candidate" }, bounds)).toThrow(/must be an integer, got nothing/);
    expect(() => parseAction({ type: "pick_candidate", token: 1, z: 0 }, bounds)).toThrow(/unexpected field\(s\) z/);
  });
});

describe("a picked candidate in the history", () => {
  const clicked = (): History => {
    let h = reduce(initialHistory(), { type: "add_point", x: 3, y: 1, z: 0, positive: true });
    h = reduce(h, { type: "result", z: 0, key: promptKey(present(h).prompts, 0), rle: encodeRle(mask(10, 11)) });
    return h;
  };

  it("replaces the click's mask as one undo step; undo shows the rule's choice again; the decoder need not redo it", () => {
    const h0 = clicked();
    const key = promptKey(present(h0).prompts, 0);
    const picked = reduce(h0, { type: "pick", z: 0, key, rle: encodeRle(mask(10, 11, 12, 18)) });
    expect(picked.index).toBe(h0.index + 1);
    expect(present(picked).current.get(0)).toMatchObject({ area: 4, source: key });
    expect(present(picked).cause).toBe("pick");
    const undone = reduce(picked, { type: "undo" });
    expect(present(undone).current.get(0)?.area).toBe(2);
    expect(canUndo(undone)).toBe(true);
  });

  it("picking the mask already shown is no step; a pick for prompts that changed is refused", () => {
    const h0 = clicked();
    const key = promptKey(present(h0).prompts, 0);
    expect(reduce(h0, { type: "pick", z: 0, key, rle: encodeRle(mask(10, 11)) })).toBe(h0);
    const moved = reduce(h0, { type: "add_point", x: 5, y: 2, z: 0, positive: false } as ReducerAction);
    expect(() => reduce(moved, { type: "pick", z: 0, key, rle: encodeRle(mask(1)) })).toThrow(/prompts changed/);
  });
});

describe("keys and thumbnails", () => {
  it("1, 2 and 3 pick that candidate, and the help line names them", () => {
    for (const token of [1, 2, 3]) {
      expect(bindingFor({ key: String(token), shiftKey: false, ctrlKey: false, metaKey: false })?.command).toEqual({ kind: "act", action: { type: "pick_candidate", token } });
      expect(helpLine()).toContain(`${token}: SAM's candidate ${token}`);
    }
    expect(bindingFor({ key: "4", shiftKey: false, ctrlKey: false, metaKey: false })).toBeUndefined();
  });

  it("the crop covers every candidate with a margin, stays on the slice, and is the whole slice when all are empty", () => {
    const w = 100, h = 60;
    const a = new Uint8Array(w * h);
    const b = new Uint8Array(w * h);
    a[30 * w + 40] = 1; // (40, 30)
    b[34 * w + 52] = 1; // (52, 34)
    const crop = thumbnailCrop([a, b], w, h);
    expect(crop.x).toBeLessThanOrEqual(40 - 8);
    expect(crop.x + crop.w).toBeGreaterThanOrEqual(52 + 8);
    expect(crop.y).toBeLessThanOrEqual(30 - 8);
    expect(crop.y + crop.h).toBeGreaterThanOrEqual(34 + 8);
    expect(crop.w).toBe(crop.h);
    const edge = new Uint8Array(w * h);
    edge[0] = 1;
    expect(thumbnailCrop([edge], w, h)).toMatchObject({ x: 0, y: 0 });
    expect(thumbnailCrop([new Uint8Array(w * h)], w, h)).toEqual({ x: 0, y: 0, w, h });
  });
});
