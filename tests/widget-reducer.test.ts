/**
 * The widget's undo history (reducer) and the label map painted from committed objects.
 */
import { describe, expect, it } from "vitest";
import { LabelStore } from "../widgets/segment-canvas/common/labels.js";
import { decodeRle, decodeStack, encodeRle } from "../widgets/segment-canvas/common/mask-codec.js";
import {
  MAX_HISTORY,
  canRedo,
  canUndo,
  initialHistory,
  present,
  promptKey,
  reduce,
  staleSlices,
  type History,
  type ReducerAction,
} from "../widgets/segment-canvas/common/reducer.js";

const W = 4;
const H = 2;
const N = W * H;

function mask(...on: number[]): Uint8Array {
  const m = new Uint8Array(N);
  for (const i of on) m[i] = 1;
  return m;
}

function run(h: History, ...actions: ReducerAction[]): History {
  return actions.reduce(reduce, h);
}

/** Attaches `m` as the decoder's answer to the present prompts of slice z. */
function answer(h: History, z: number, m: Uint8Array): History {
  return reduce(h, { type: "result", z, key: promptKey(present(h).prompts, z), rle: encodeRle(m) });
}

const click = (x: number, y: number, positive = true, z = 0): ReducerAction => ({ type: "add_point", x, y, z, positive });

describe("prompts", () => {
  it("adds points with increasing ids and marks their slice for segmentation", () => {
    const h = run(initialHistory(), click(1, 1), click(2, 1, false));
    const s = present(h);
    expect(s.prompts.points.map((p) => [p.id, p.x, p.positive])).toEqual([
      [1, 1, true],
      [2, 2, false],
    ]);
    expect(staleSlices(s)).toEqual([0]);
    expect(canUndo(h)).toBe(true);
    expect(canRedo(h)).toBe(false);
  });

  it("keeps one box per slice and removes prompts by id or the latest one", () => {
    let h = run(initialHistory(), click(1, 1), { type: "set_box", x0: 0, y0: 0, x1: 2, y1: 1, z: 0 });
    h = reduce(h, { type: "set_box", x0: 1, y0: 0, x1: 3, y1: 1, z: 0 });
    expect(present(h).prompts.boxes.map((b) => [b.id, b.x0])).toEqual([[3, 1]]);
    h = reduce(h, { type: "remove_last" });
    expect(present(h).prompts.boxes).toEqual([]);
    expect(present(h).prompts.points).toHaveLength(1);
    h = reduce(h, { type: "remove_prompt", id: 1 });
    expect(present(h).prompts.points).toEqual([]);
    expect(() => reduce(h, { type: "remove_prompt", id: 1 })).toThrow(/no prompt with id 1/);
    expect(() => reduce(h, { type: "remove_last" })).toThrow(/no prompt to remove/);
  });

  it("drops a slice's mask when its last prompt goes", () => {
    let h = run(initialHistory(), click(1, 1));
    h = answer(h, 0, mask(1, 2));
    expect(present(h).current.get(0)?.area).toBe(2);
    h = reduce(h, { type: "remove_last" });
    expect(present(h).current.size).toBe(0);
  });
});

describe("results", () => {
  it("attach to the snapshot whose prompts they answer, and are ignored once the prompts changed", () => {
    let h = run(initialHistory(), click(1, 1));
    const oldKey = promptKey(present(h).prompts, 0);
    h = reduce(h, click(3, 1, false));
    const before = h;
    h = reduce(h, { type: "result", z: 0, key: oldKey, rle: encodeRle(mask(0)) });
    expect(h).toBe(before);
    expect(staleSlices(present(h))).toEqual([0]);
    h = answer(h, 0, mask(0, 1));
    expect(staleSlices(present(h))).toEqual([]);
    // Not an undo step.
    expect(h.snapshots).toHaveLength(before.snapshots.length);
  });

  it("undo shows the earlier mask at once, redo the later one, without re-segmenting", () => {
    let h = answer(run(initialHistory(), click(1, 1)), 0, mask(0, 1, 2));
    h = answer(reduce(h, click(2, 1, false)), 0, mask(0));
    h = reduce(h, { type: "undo" });
    expect(present(h).current.get(0)?.area).toBe(3);
    expect(staleSlices(present(h))).toEqual([]);
    h = reduce(h, { type: "redo" });
    expect(present(h).current.get(0)?.area).toBe(1);
    expect(staleSlices(present(h))).toEqual([]);
  });

  it("a new action after undo drops the redo branch", () => {
    let h = run(initialHistory(), click(1, 1), click(2, 1), { type: "undo" });
    expect(canRedo(h)).toBe(true);
    h = reduce(h, click(3, 0));
    expect(canRedo(h)).toBe(false);
    expect(present(h).prompts.points.map((p) => p.x)).toEqual([1, 3]);
  });

  it("undo and redo at the ends change nothing", () => {
    const h0 = initialHistory();
    expect(reduce(h0, { type: "undo" })).toBe(h0);
    expect(reduce(h0, { type: "redo" })).toBe(h0);
  });
});

describe("commits", () => {
  it("turn the current mask into the next label and clear the prompts", () => {
    let h = answer(run(initialHistory(), click(1, 1)), 0, mask(1, 2, 5));
    h = reduce(h, { type: "commit" });
    const s = present(h);
    expect(s.objects.map((o) => [o.label, o.voxels, [...o.slices.keys()]])).toEqual([[1, 3, [0]]]);
    expect(s.objects[0]!.prompts.points).toHaveLength(1);
    expect(s.nextLabel).toBe(2);
    expect(s.prompts.points).toEqual([]);
    expect(s.current.size).toBe(0);
  });

  it("are refused without a mask, or while a mask is stale", () => {
    expect(() => reduce(initialHistory(), { type: "commit" })).toThrow(/nothing to commit/);
    const h = run(initialHistory(), click(1, 1));
    expect(() => reduce(h, { type: "commit" })).toThrow(/slice 0 is still being computed/);
    expect(() => reduce(answer(h, 0, mask()), { type: "commit" })).toThrow(/nothing to commit/);
  });

  it("undo of a commit gives back the object's prompts and mask; redo commits it again", () => {
    let h = answer(run(initialHistory(), click(1, 1)), 0, mask(1, 2));
    h = reduce(h, { type: "commit" });
    h = reduce(h, { type: "undo" });
    const s = present(h);
    expect(s.objects).toEqual([]);
    expect(s.prompts.points).toHaveLength(1);
    expect(s.current.get(0)?.area).toBe(2);
    expect(s.nextLabel).toBe(1);
    h = reduce(h, { type: "redo" });
    expect(present(h).objects.map((o) => o.label)).toEqual([1]);
  });

  it("remove_object checks the label", () => {
    let h = answer(run(initialHistory(), click(1, 1)), 0, mask(1));
    h = reduce(h, { type: "commit" });
    expect(() => reduce(h, { type: "remove_object", label: 2 })).toThrow(/no object with label 2 \(committed labels: 1\)/);
    h = reduce(h, { type: "remove_object", label: 1 });
    expect(present(h).objects).toEqual([]);
  });

  it("survive the history cap: old snapshots go, committed objects stay", () => {
    let h = answer(run(initialHistory(), click(1, 1)), 0, mask(1));
    h = reduce(h, { type: "commit" });
    for (let i = 0; i < MAX_HISTORY + 10; i++) h = reduce(h, click(i % W, 0));
    expect(h.snapshots).toHaveLength(MAX_HISTORY);
    expect(h.index).toBe(MAX_HISTORY - 1);
    expect(present(h).objects.map((o) => o.label)).toEqual([1]);
    for (let i = 0; i < MAX_HISTORY + 5; i++) h = reduce(h, { type: "undo" });
    expect(h.index).toBe(0);
    expect(present(h).objects.map((o) => o.label)).toEqual([1]);
  });
});

describe("objects added whole (accepted proposals)", () => {
  it("become the next label without touching the current object's prompts or mask; undo and redo are one step", () => {
    const h0 = answer(run(initialHistory(), click(1, 1)), 0, mask(1, 2));
    const h1 = reduce(h0, { type: "add_object", slices: new Map([[0, encodeRle(mask(4, 5, 6))]]) });
    const s = present(h1);
    expect(s.objects.map((o) => [o.label, o.name, o.voxels, [...o.slices.keys()]])).toEqual([[1, "object 1", 3, [0]]]);
    expect(s.objects[0]!.prompts.points).toEqual([]);
    expect(s.nextLabel).toBe(2);
    expect(s.prompts).toBe(present(h0).prompts);
    expect(s.current).toBe(present(h0).current);
    expect(present(reduce(h1, { type: "undo" })).objects).toEqual([]);
    expect(present(run(h1, { type: "undo" }, { type: "redo" })).objects).toEqual(s.objects);
    // The current object commits after it, as label 2.
    expect(present(reduce(h1, { type: "commit" })).objects.map((o) => [o.label, o.voxels])).toEqual([[1, 3], [2, 2]]);
  });

  it("an empty mask is refused", () => {
    expect(() => reduce(initialHistory(), { type: "add_object", slices: new Map([[0, encodeRle(mask())]]) })).toThrow(/nothing to add/);
  });
});

describe("propagation results", () => {
  it("fill slices without prompts and leave prompted slices to their own result", () => {
    let h = answer(run(initialHistory(), click(1, 1, true, 1)), 1, mask(1));
    h = reduce(h, { type: "propagated", slices: new Map([[0, encodeRle(mask(0, 1))], [1, encodeRle(mask(7))], [2, encodeRle(mask(2))]]) });
    const s = present(h);
    expect([...s.current.keys()].sort()).toEqual([0, 1, 2]);
    expect(s.current.get(1)?.area).toBe(1);
    expect([...decodeRle(s.current.get(1)!.rle, N)]).toEqual([...mask(1)]);
    expect(s.current.get(0)?.source).toBe("propagated");
    expect(staleSlices(s)).toEqual([]);
    h = reduce(h, { type: "commit" });
    expect(present(h).objects[0]!.voxels).toBe(4);
    h = reduce(h, { type: "undo" });
    expect(present(h).current.size).toBe(3);
    h = reduce(h, { type: "undo" });
    expect([...present(h).current.keys()]).toEqual([1]);
  });
});

describe("LabelStore", () => {
  const shape = { width: W, height: H, depth: 3 };

  it("paints objects in commit order (later ones on top) and repaints after undo", () => {
    const store = new LabelStore(shape);
    let h = answer(run(initialHistory(), click(1, 1)), 0, mask(0, 1, 2));
    h = reduce(h, { type: "commit" });
    h = answer(reduce(h, click(2, 0)), 0, mask(2, 3));
    h = reduce(h, { type: "commit" });
    expect(store.sync(present(h).objects)).toBe(true);
    expect(store.sync(present(h).objects)).toBe(false);
    expect([...store.slice(0)!]).toEqual([1, 1, 2, 2, 0, 0, 0, 0]);
    expect(store.counts()).toEqual(new Map([[1, 2], [2, 2]]));
    const stack = decodeStack(store.encode(), shape);
    expect([...stack.slices.keys()]).toEqual([0]);
    expect([...decodeRle(stack.slices.get(0)!, N, new Uint16Array(N))]).toEqual([1, 1, 2, 2, 0, 0, 0, 0]);

    h = reduce(h, { type: "undo" });
    store.sync(present(h).objects);
    expect([...store.slice(0)!]).toEqual([1, 1, 1, 0, 0, 0, 0, 0]);
    h = reduce(h, { type: "remove_object", label: 1 });
    store.sync(present(h).objects);
    expect(store.slice(0)).toBeUndefined();
    expect(store.touched).toEqual([]);
  });
});
