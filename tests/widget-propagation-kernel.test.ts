/**
 * The propagation report and re-propagation on the kernel side, with the analytic model in
 * onnxruntime and a front end played in-process (widgets/harness/fake-frontend.ts). The model
 * is wrapped so that two slices go wrong the ways propagation stops: slice 2 answers off to the
 * side (IoU with its neighbour under 0.5) and slice 9 answers nothing (empty). What the canvas
 * reports is checked against kernel/interactive/propagate.ts run directly on the same slices.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { propagate, type PropagateOptions, type PropagationResult } from "../kernel/interactive/propagate.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { geometryFromAffine, writeNifti } from "../kernel/io/nifti-write.js";
import type { Volume } from "../kernel/io/volume.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import type { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import { volumeSource } from "../widgets/segment-canvas/kernel/source.js";
import type { CanvasModel } from "../widgets/segment-canvas/kernel/types.js";
import { stampSegment } from "../widgets/segment-canvas/common/brush.js";
import { decodeRle, decodeStack, encodeRle, toBase64 } from "../widgets/segment-canvas/common/mask-codec.js";
import type { PropagationReport, SegmentCanvasState } from "../widgets/segment-canvas/common/state.js";
import { makePhantom } from "./helpers/phantom3d.js";

const MODEL_DIR = join(import.meta.dirname, "..", "models", "analytic");
const DIMS: [number, number, number] = [48, 40, 12];
const SHIFTED_AT = 2;
const EMPTY_AT = 9;
const SEED = 6;

let sam: SamModel;
let dir: string;
let volume: Volume;
/** The display slice each embedding was made from (each slice of the volume has its own uniform value). */
const sliceOfEmbedding = new WeakMap<Embedding, number>();
let sliceOfValue: Map<number, number>;

/** The analytic model, wrong on two slices. */
const model: CanvasModel = {
  async embed(image, options) {
    // A copy per call: the model's cache may hand out one object for slices that look alike.
    const e = { ...(await sam.embed(image, options)) };
    const z = sliceOfValue.get(Number(image.data[0]));
    if (z !== undefined) sliceOfEmbedding.set(e, z);
    return e;
  },
  async segment(embedding, prompt, options) {
    const r = await sam.segment(embedding, prompt, options);
    const z = sliceOfEmbedding.get(embedding);
    if (z === EMPTY_AT) return { ...r, mask: new Uint8Array(r.mask.length) };
    if (z === SHIFTED_AT) {
      const shifted = new Uint8Array(r.mask.length);
      for (let i = 0; i < r.mask.length; i++) if (r.mask[i] && (i % r.width) + 20 < r.width) shifted[i + 20] = 1;
      return { ...r, mask: shifted };
    }
    return r;
  },
};

beforeAll(async () => {
  sam = await loadModel(MODEL_DIR);
  dir = mkdtempSync(join(tmpdir(), "widget-propagation-"));
  const ph = makePhantom({ dims: DIMS });
  const n = DIMS[0] * DIMS[1];
  const data = Float32Array.from({ length: n * DIMS[2] }, (_, i) => 10 * Math.floor(i / n) + 5);
  const path = join(dir, "slices.nii.gz");
  await writeNifti(path, { dims: [...DIMS], data, datatype: "float32", geometry: geometryFromAffine(ph.affine) });
  volume = await readNifti(path);
  const source = volumeSource(volume);
  sliceOfValue = new Map(Array.from({ length: source.depth }, (_, z) => [Number(source.sliceImage(z).data[0]), z]));
  expect(sliceOfValue.size).toBe(DIMS[2]);
});
afterAll(async () => {
  await sam?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function state(f: FakeFrontend, w: SegmentCanvas): Partial<SegmentCanvasState> & Record<string, unknown> {
  return f.model(w.modelId).state as Partial<SegmentCanvasState> & Record<string, unknown>;
}

/** The current object's masks as a front end decodes them. */
function current(f: FakeFrontend, w: SegmentCanvas): Map<number, Uint8Array> {
  const stack = decodeStack(state(f, w).current as Uint8Array, w);
  return new Map([...stack.slices].map(([z, rle]) => [z, decodeRle(rle, w.width * w.height)]));
}

let seq = 0;
function action(f: FakeFrontend, w: SegmentCanvas, a: Record<string, unknown>): Promise<void> {
  return f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action: a });
}

function disc(w: SegmentCanvas, cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(w.width * w.height);
  stampSegment(m, w.width, w.height, cx, cy, cx, cy, r);
  return m;
}

/** kernel/interactive/propagate.ts on the canvas's slices, with the canvas's defaults. */
function reference(w: SegmentCanvas, seeds: { z: number; mask: Uint8Array }[], options: PropagateOptions = {}): Promise<PropagationResult> {
  const source = volumeSource(volume);
  const stack = { depth: w.depth, width: w.width, height: w.height, get: (z: number) => model.embed(source.sliceImage(z)) };
  return propagate(stack, model, seeds, options);
}

/** The report's outcomes in propagate.ts's terms. */
function outcomesOf(report: PropagationReport | null | undefined) {
  return (report?.slices ?? []).map((o) => ({ z: o.z, from: o.from, kind: o.kind, written: o.written, area: o.area, iouWithPrevious: o.overlap, predictedIou: o.iou }));
}
const byZ = <T extends { z: number }>(xs: readonly T[]) => [...xs].sort((a, b) => a.z - b.z);

describe("the propagation report and re-propagation", () => {
  let f: FakeFrontend;
  let w: SegmentCanvas;
  let afterShiftS: Map<number, Uint8Array>;

  beforeAll(async () => {
    f = new FakeFrontend();
    w = segmentCanvas(model, volume, { runtime: f.runtime });
    await w.whenIdle();
  });

  it("Shift+S reports each slice's predicted IoU, what was written, and why each direction stopped, as propagate.ts decides them", async () => {
    await action(f, w, { type: "add_point", x: 24, y: 20, z: SEED, positive: true });
    await w.whenIdle();
    const seed = current(f, w).get(SEED)!;
    expect(seed.some((v) => v)).toBe(true);
    expect(state(f, w).propagation).toBeNull();
    await action(f, w, { type: "propagate" });
    await w.whenIdle();
    const expected = await reference(w, [{ z: SEED, mask: seed }]);
    const report = state(f, w).propagation as PropagationReport;
    expect(report).toEqual(w.propagation);
    expect(report.seeds).toEqual([SEED]);
    expect(report.restarts).toEqual([]);
    expect(report.threshold).toBe(0.5);
    expect(outcomesOf(report)).toEqual(byZ(expected.slices));
    expect(report.below).toEqual({ reason: "iou", stoppedAt: SHIFTED_AT, lastWritten: SHIFTED_AT + 1 });
    expect(report.above).toEqual({ reason: "empty", stoppedAt: EMPTY_AT, lastWritten: EMPTY_AT - 1 });
    expect(report.below).toEqual(expected.below);
    expect(report.above).toEqual(expected.above);
    expect(report.slices.filter((o) => !o.written).map((o) => o.z)).toEqual([SHIFTED_AT, EMPTY_AT]);
    afterShiftS = current(f, w);
    expect([...afterShiftS.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8]);
    for (const [z, m] of afterShiftS) expect(m).toEqual(expected.masks.get(z));
  });

  it("refuses a slice between the seeds, or one without a mask, with the reason", async () => {
    await expect(w.repropagate(SEED)).rejects.toThrow(/slice 6 is not beyond the slices propagated from \(6\)/);
    await expect(w.repropagate(EMPTY_AT)).rejects.toThrow(/slice 9 has no mask to propagate from; segment or paint it first/);
  });

  it("after painting the empty slice, F there carries on upward: only the slices beyond it are new, the report keeps the rest", async () => {
    const painted = disc(w, 24, 20, 5);
    await action(f, w, { type: "stroke", z: EMPTY_AT, target: 0, erase: false, mask: toBase64(encodeRle(painted)) });
    await w.whenIdle();
    const before = w.propagation!;
    await action(f, w, { type: "repropagate", z: EMPTY_AT });
    await w.whenIdle();
    expect(state(f, w).error ?? "").toBe("");
    const expected = await reference(w, [{ z: EMPTY_AT, mask: painted }], { stopBelow: true });
    const now = current(f, w);
    expect([...now.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const z of [3, 4, 5, 6, 7, 8]) expect(now.get(z)).toEqual(afterShiftS.get(z));
    expect(now.get(EMPTY_AT)).toEqual(painted);
    for (const z of [10, 11]) expect(now.get(z)).toEqual(expected.masks.get(z));
    const report = state(f, w).propagation as PropagationReport;
    expect(report.seeds).toEqual([SEED]);
    expect(report.restarts).toEqual([EMPTY_AT]);
    expect(outcomesOf(report)).toEqual([...outcomesOf(before).filter((o) => o.z < EMPTY_AT), ...byZ(expected.slices)]);
    expect(report.above).toEqual(expected.above);
    expect(report.above?.reason).toBe("edge");
    expect(report.below).toEqual(before.below);
    // Undo brings the earlier masks and report back together.
    await w.undo();
    expect(w.propagation).toEqual(before);
    expect([...current(f, w).keys()].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    await w.redo();
    expect(w.propagation).toEqual(report);
  });

  it("w.repropagate(z) below the seed replaces only the slices under z", async () => {
    const before = current(f, w);
    await action(f, w, { type: "stroke", z: 4, target: 0, erase: false, mask: toBase64(encodeRle(disc(w, 30, 20, 5))) });
    await w.whenIdle();
    const fixed = current(f, w).get(4)!;
    await w.repropagate(4);
    const expected = await reference(w, [{ z: 4, mask: fixed }], { stopAbove: true });
    const now = current(f, w);
    expect(now.get(3)).toEqual(expected.masks.get(3));
    expect(now.get(3)).not.toEqual(before.get(3));
    for (const z of [5, 6, 7, 8, 9, 10, 11]) expect(now.get(z)).toEqual(before.get(z));
    const report = w.propagation!;
    expect(report.restarts).toEqual([4, EMPTY_AT]);
    expect(outcomesOf(report).filter((o) => o.z < 4)).toEqual(byZ(expected.slices));
    expect(report.below).toEqual(expected.below);
    expect(report.above?.reason).toBe("edge");
  });

  it("commit forgets the report", async () => {
    await w.commit();
    expect(w.propagation).toBeNull();
    expect(state(f, w).propagation).toBeNull();
  });
});
