/**
 * The propagation strip's shared parts: the repropagate action's checks, its history step (only
 * the propagated slices beyond the fixed one replaced; the report kept with undo and redo,
 * dropped by commit and clear), the strip's cells and caption, and the F key.
 */
import { describe, expect, it } from "vitest";
import { bindingFor, helpLine } from "../widgets/segment-canvas/browser/keys.js";
import { encodeRle } from "../widgets/segment-canvas/common/mask-codec.js";
import { repropagateStep, stripCaption, stripCells } from "../widgets/segment-canvas/common/propagation-report.js";
import { initialHistory, present, promptKey, reduce, type History } from "../widgets/segment-canvas/common/reducer.js";
import { parseAction, type PropagationReport } from "../widgets/segment-canvas/common/state.js";

const bounds = { width: 8, height: 4, depth: 8 };
const N = 8 * 4;

function mask(...on: number[]): Uint8Array {
  const m = new Uint8Array(N);
  for (const i of on) m[i] = 1;
  return m;
}

const report = (over: Partial<PropagationReport> = {}): PropagationReport => ({
  seeds: [3],
  restarts: [],
  threshold: 0.5,
  slices: [
    { z: 1, from: 2, kind: "propagated", written: false, iou: 0.4, overlap: 0.2, area: 5 },
    { z: 2, from: 3, kind: "propagated", written: true, iou: 0.9, overlap: 0.8, area: 6 },
    { z: 4, from: 3, kind: "propagated", written: true, iou: 0.95, overlap: 0.9, area: 6 },
    { z: 5, from: 4, kind: "propagated", written: false, iou: 0.7, overlap: 0, area: 0 },
  ],
  below: { reason: "iou", stoppedAt: 1, lastWritten: 2 },
  above: { reason: "empty", stoppedAt: 5, lastWritten: 4 },
  ...over,
});

/** Slice 3 clicked and segmented, then propagated to 2 and 4..6. */
function propagated(): History {
  let h = reduce(initialHistory(), { type: "add_point", x: 3, y: 1, z: 3, positive: true });
  h = reduce(h, { type: "result", z: 3, key: promptKey(present(h).prompts, 3), rle: encodeRle(mask(10, 11)) });
  const slices = new Map([2, 4, 5, 6].map((z) => [z, encodeRle(mask(10, 11, z))]));
  return reduce(h, { type: "propagated", slices, report: report() });
}

describe("the repropagate action", () => {
  it("takes a slice in the volume and nothing else", () => {
    expect(parseAction({ type: "repropagate", z: 5 }, bounds)).toEqual({ type: "repropagate", z: 5 });
    expect(() => parseAction({ type: "repropagate", z: 8 }, bounds)).toThrow(/outside 0..7/);
    expect(() => parseAction({ type: "repropagate" }, bounds)).toThrow(/must be an integer, got nothing/);
    expect(() => parseAction({ type: "repropagate", z: 1, token: 1 }, bounds)).toThrow(/unexpected field\(s\) token/);
  });

  it("runs away from the seeds and is refused between them", () => {
    expect(repropagateStep([3], 5)).toBe(1);
    expect(repropagateStep([3], 0)).toBe(-1);
    expect(repropagateStep([2, 6], 7)).toBe(1);
    expect(() => repropagateStep([2, 6], 4)).toThrow(/slice 4 is not beyond the slices propagated from \(2–6\)/);
    expect(() => repropagateStep([3], 3)).toThrow(/not beyond .*\(3\)/);
    expect(() => repropagateStep([], 3)).toThrow(/propagate the object first/);
  });
});

describe("a re-propagation in the history", () => {
  it("drops the propagated masks beyond the fixed slice, keeps the rest, and is one undo step with its report", () => {
    const h0 = propagated();
    // The user paints slice 5 (it becomes 'painted'), then propagates again from it upward: 7 only.
    const h1 = reduce(h0, { type: "stroke", z: 5, target: 0, erase: false, mask: Buffer.from(encodeRle(mask(20))).toString("base64") });
    expect(present(h1).current.get(5)?.source).toBe("painted");
    expect(present(h1).propagation).toBe(present(h0).propagation);
    const fresh = report({ seeds: [3], restarts: [5], slices: [{ z: 7, from: 5, kind: "propagated", written: true, iou: 0.8, overlap: 0.9, area: 2 }] });
    const h2 = reduce(h1, { type: "propagated", slices: new Map([[7, encodeRle(mask(1, 2))]]), report: fresh, beyond: { from: 5, step: 1 } });
    const s = present(h2);
    expect([...s.current.keys()].sort()).toEqual([2, 3, 4, 5, 7]); // 6 (propagated, beyond 5) is gone; 5 (painted) and below stay
    expect(s.current.get(2)).toBe(present(h1).current.get(2));
    expect(s.current.get(4)).toBe(present(h1).current.get(4));
    expect(s.current.get(5)).toBe(present(h1).current.get(5));
    expect(s.current.get(7)?.area).toBe(2);
    expect(s.propagation).toBe(fresh);
    const undone = reduce(h2, { type: "undo" });
    expect([...present(undone).current.keys()].sort()).toEqual([2, 3, 4, 5, 6]);
    expect(present(undone).propagation).toBe(present(h0).propagation);
    expect(present(reduce(undone, { type: "redo" })).propagation).toBe(fresh);
  });

  it("downward replaces only the slices under the fixed one", () => {
    const h0 = propagated();
    const h1 = reduce(h0, { type: "propagated", slices: new Map(), report: report(), beyond: { from: 4, step: -1 } });
    // Under 4: 2 (propagated) dropped, 3 (the prompted seed) kept.
    expect([...present(h1).current.keys()].sort()).toEqual([3, 4, 5, 6]);
  });

  it("is forgotten by commit and clear", () => {
    expect(present(reduce(propagated(), { type: "commit" })).propagation).toBeUndefined();
    expect(present(reduce(propagated(), { type: "clear" })).propagation).toBeUndefined();
  });
});

describe("the strip", () => {
  it("has one cell per slice: prompted, written with its predicted IoU, refused, not reached", () => {
    const cells = stripCells(report({ restarts: [6], slices: [...report().slices, { z: 7, from: 6, kind: "filled", written: true, iou: 0.6, overlap: 0.7, area: 3 }] }), 8);
    expect(cells.map((c) => c.kind)).toEqual(["none", "refused", "written", "seed", "written", "refused", "restart", "filled"]);
    expect(cells.map((c) => c.iou)).toEqual([null, 0.4, 0.9, null, 0.95, 0.7, null, 0.6]);
    expect(cells[1]!.title).toMatch(/slice 1, predicted IoU 0.400, IoU with slice 2 0.200, 5 px, under the threshold: not written/);
    expect(cells[5]!.title).toMatch(/0 px, empty: not written/);
    expect(cells[0]!.title).toBe("slice 0: not reached");
  });

  it("says why each direction stopped", () => {
    expect(stripCaption(report(), 8)).toBe("down: IoU with slice 2 under 0.5 at slice 1 · up: empty mask at slice 5");
    expect(stripCaption(report({ below: { reason: "edge", stoppedAt: -1, lastWritten: 0 }, above: { reason: "edge", stoppedAt: 8, lastWritten: 7 } }), 8)).toBe("down: volume end (slice 0) · up: volume end (slice 7)");
    expect(stripCaption(report({ below: null, above: null }), 8)).toBe("");
  });

  it("F re-propagates from the shown slice, and the help line says so", () => {
    expect(bindingFor({ key: "f", shiftKey: false, ctrlKey: false, metaKey: false })?.command).toEqual({ kind: "repropagate" });
    expect(bindingFor({ key: "F", shiftKey: true, ctrlKey: false, metaKey: false })).toBeUndefined();
    expect(helpLine()).toContain("F: re-propagate from this slice");
  });
});
