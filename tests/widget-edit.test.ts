/**
 * The canvas's editing tools in the shared state: the brush footprint, run-length mask
 * arithmetic and base64 (what a stroke travels as), and the reducer's stroke, rename, relabel
 * and load steps. Expected pixels are written out by hand or computed by decoding, never by
 * the function under test.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_BRUSH, MAX_BRUSH, MIN_BRUSH, stampSegment, stepBrush } from "../widgets/segment-canvas/common/brush.js";
import { decodeRle, encodeRle, fromBase64, MaskCodecError, rleCombine, toBase64 } from "../widgets/segment-canvas/common/mask-codec.js";
import { canUndo, initialHistory, makeObject, present, reduce, type History, type ReducerAction } from "../widgets/segment-canvas/common/reducer.js";
import { ActionError, parseAction } from "../widgets/segment-canvas/common/state.js";

const W = 4;
const H = 2;
const N = W * H;
const mask = (...on: number[]) => {
  const m = new Uint8Array(N);
  for (const i of on) m[i] = 1;
  return m;
};
const on = (rle: Uint8Array) => [...decodeRle(rle, N)].flatMap((v, i) => (v ? [i] : []));
const stroke = (z: number, target: number, erase: boolean, ...pixels: number[]): ReducerAction => ({ type: "stroke", z, target, erase, mask: toBase64(encodeRle(mask(...pixels))) });
const run = (h: History, ...actions: ReducerAction[]) => actions.reduce(reduce, h);

describe("run-length mask arithmetic", () => {
  it("union and subtract agree with pixel-wise or / and-not on random masks", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rand() * 60);
      const a = Uint8Array.from({ length: n }, () => (rand() < 0.4 ? 1 : 0));
      const b = Uint8Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
      const union = decodeRle(rleCombine(encodeRle(a), encodeRle(b), "union"), n);
      const minus = decodeRle(rleCombine(encodeRle(a), encodeRle(b), "subtract"), n);
      for (let i = 0; i < n; i++) {
        expect(union[i]).toBe(a[i]! | b[i]!);
        expect(minus[i]).toBe(a[i]! & (1 - b[i]!));
      }
    }
  });

  it("an empty RLE stands for an empty mask; slices of different sizes are refused", () => {
    expect(on(rleCombine(new Uint8Array(0), encodeRle(mask(1, 2)), "union"))).toEqual([1, 2]);
    expect(on(rleCombine(encodeRle(mask(1, 2)), new Uint8Array(0), "subtract"))).toEqual([1, 2]);
    expect(() => rleCombine(encodeRle([1, 0]), encodeRle([1, 0, 0]), "union")).toThrow(MaskCodecError);
  });

  it("base64 round-trips every length and refuses what is not base64", () => {
    for (let n = 0; n < 20; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n) & 255);
      expect([...fromBase64(toBase64(bytes))]).toEqual([...bytes]);
    }
    expect(toBase64(new TextEncoder().encode("Man"))).toBe("TWFu");
    expect(toBase64(new TextEncoder().encode("Ma"))).toBe("TWE=");
    expect(() => fromBase64("abc")).toThrow(MaskCodecError);
    expect(() => fromBase64("ab!=")).toThrow(MaskCodecError);
  });
});

describe("the brush footprint", () => {
  it("a dot of radius 1 is the pixel under the pointer; radius 2 adds its 8 neighbours", () => {
    const m = new Uint8Array(25);
    stampSegment(m, 5, 5, 2, 2, 2, 2, 1);
    expect([...m].flatMap((v, i) => (v ? [i] : []))).toEqual([12]);
    stampSegment(m, 5, 5, 2, 2, 2, 2, 2);
    expect([...m].flatMap((v, i) => (v ? [i] : []))).toEqual([6, 7, 8, 11, 12, 13, 16, 17, 18]);
  });

  it("a segment covers the pixels closer than the radius to it, clipped to the slice, and names the rectangle it touched", () => {
    const w = 10, h = 6;
    const m = new Uint8Array(w * h);
    const rect = stampSegment(m, w, h, -3, 2, 12, 2, 1.5);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) expect(m[y * w + x], `${x},${y}`).toBe(Math.abs(y - 2) < 1.5 ? 1 : 0);
    expect(rect).toEqual({ x: 0, y: 0, w: 10, h: 5 });
    expect(stampSegment(m, w, h, -20, -20, -15, -15, 2)).toBeUndefined();
  });

  it("[ and ] step the size within its limits", () => {
    expect(stepBrush(DEFAULT_BRUSH, true)).toBeGreaterThan(DEFAULT_BRUSH);
    expect(stepBrush(DEFAULT_BRUSH, false)).toBeLessThan(DEFAULT_BRUSH);
    expect(stepBrush(MIN_BRUSH, false)).toBe(MIN_BRUSH);
    expect(stepBrush(MAX_BRUSH, true)).toBe(MAX_BRUSH);
  });
});

describe("stroke, rename, relabel and load in the undo history", () => {
  it("a brush stroke with no object starts one on that slice; commit keeps it; each stroke is one undo step", () => {
    let h = run(initialHistory(), stroke(0, 0, false, 1, 2, 5));
    expect(on(present(h).current.get(0)!.rle)).toEqual([1, 2, 5]);
    expect(present(h).current.get(0)!.source).toBe("painted");
    h = run(h, stroke(0, 0, true, 2));
    expect(on(present(h).current.get(0)!.rle)).toEqual([1, 5]);
    expect(h.index).toBe(2);
    h = run(h, { type: "undo" });
    expect(on(present(h).current.get(0)!.rle)).toEqual([1, 2, 5]);
    h = run(h, { type: "redo" }, { type: "commit" });
    expect(present(h).objects.map((o) => [o.label, o.name, o.voxels])).toEqual([[1, "object 1", 2]]);
  });

  it("painting a prompted slice keeps the decoder away from it (the mask answers its prompts) until the prompts change", () => {
    let h = run(initialHistory(), { type: "add_point", x: 1, y: 0, z: 0, positive: true });
    expect(() => run(h, stroke(0, 0, false, 7))).toThrow(/still being computed/);
    h = run(h, { type: "result", z: 0, key: JSON.stringify({ p: [[1, 0, 1]], b: null }), rle: encodeRle(mask(1)) });
    h = run(h, stroke(0, 0, false, 7));
    expect(on(present(h).current.get(0)!.rle)).toEqual([1, 7]);
    // a late result for the same prompts does not undo the paint
    h = run(h, { type: "result", z: 0, key: JSON.stringify({ p: [[1, 0, 1]], b: null }), rle: encodeRle(mask(1)) });
    expect(on(present(h).current.get(0)!.rle)).toEqual([1, 7]);
  });

  it("painting a committed object takes the pixels from the others; erasing one to nothing removes it; undo restores both", () => {
    const a = makeObject(1, new Map([[0, encodeRle(mask(0, 1))]]));
    const b = makeObject(2, new Map([[0, encodeRle(mask(2, 3))]]));
    const start = initialHistory({ objects: [a, b] });
    let h = run(start, stroke(0, 1, false, 2));
    expect(present(h).objects.map((o) => [o.label, on(o.slices.get(0)!), o.voxels])).toEqual([[1, [0, 1, 2], 3], [2, [3], 1]]);
    h = run(h, stroke(0, 2, true, 3));
    expect(present(h).objects.map((o) => o.label)).toEqual([1]);
    h = run(h, { type: "undo" }, { type: "undo" });
    expect(present(h).objects).toBe(start.snapshots[0]!.objects);
    expect(() => run(h, stroke(0, 9, false, 1))).toThrow(ActionError);
    expect(run(h, stroke(0, 1, true, 6))).toBe(h); // erasing nothing is not a step
  });

  it("rename and relabel are undo steps; a taken label is refused; the default name follows the label", () => {
    const objects = [makeObject(1, new Map([[0, encodeRle(mask(0))]])), makeObject(2, new Map([[0, encodeRle(mask(1))]]))];
    let h = run(initialHistory({ objects }), { type: "rename_object", label: 2, name: "spleen" }, { type: "relabel_object", label: 1, to: 7 });
    expect(present(h).objects.map((o) => [o.label, o.name])).toEqual([[7, "object 7"], [2, "spleen"]]);
    expect(present(h).nextLabel).toBe(8);
    expect(() => run(h, { type: "relabel_object", label: 7, to: 2 })).toThrow(/taken by 'spleen'/);
    h = run(h, { type: "undo" });
    expect(present(h).objects.map((o) => [o.label, o.name])).toEqual([[1, "object 1"], [2, "spleen"]]);
  });

  it("load replaces the objects in one undo step, or adds them and refuses a taken label", () => {
    const mine = initialHistory({ objects: [makeObject(1, new Map([[0, encodeRle(mask(0))]]))] });
    const loaded = [makeObject(4, new Map([[1, encodeRle(mask(5))]]), { name: "liver" })];
    const replaced = run(mine, { type: "load", objects: loaded, replace: true });
    expect(present(replaced).objects.map((o) => [o.label, o.name])).toEqual([[4, "liver"]]);
    expect(present(replaced).nextLabel).toBe(5);
    expect(canUndo(replaced)).toBe(true);
    expect(present(run(mine, { type: "load", objects: loaded, replace: false })).objects.map((o) => o.label)).toEqual([1, 4]);
    expect(() => run(mine, { type: "load", objects: [makeObject(1, new Map([[0, encodeRle(mask(3))]]))], replace: false })).toThrow(/already an object/);
  });

  it("the kernel checks strokes and names from a front end", () => {
    const bounds = { width: W, height: H, depth: 2 };
    const good = { type: "stroke", z: 1, target: 0, erase: false, mask: toBase64(encodeRle(mask(1))) };
    expect(parseAction(good, bounds)).toEqual(good);
    expect(() => parseAction({ ...good, mask: toBase64(encodeRle([1, 0, 1])) }, bounds)).toThrow(/not an RLE slice of 4x2/);
    expect(() => parseAction({ ...good, mask: "%%%%" }, bounds)).toThrow(ActionError);
    expect(() => parseAction({ ...good, z: 2 }, bounds)).toThrow(/outside 0..1/);
    expect(() => parseAction({ type: "rename_object", label: 1, name: "  " }, bounds)).toThrow(/non-empty/);
    expect(parseAction({ type: "rename_object", label: 1, name: " liver " }, bounds)).toEqual({ type: "rename_object", label: 1, name: "liver" });
    expect(() => parseAction({ type: "relabel_object", label: 1, to: 70000 }, bounds)).toThrow(ActionError);
  });
});
