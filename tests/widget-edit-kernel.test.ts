/**
 * The canvas's editing tools on the kernel side, with the analytic model in onnxruntime and a
 * front end played in-process (widgets/harness/fake-frontend.ts): brush and eraser strokes from
 * the front end, starting from a label map, loadLabels, names in the sidecar, and an autosaved
 * session reopened by a new canvas (what a kernel restart leaves: only the files). Expected
 * pixels come from the strokes and label maps the test builds, decoded from what a front end
 * receives.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNifti } from "../kernel/io/nifti-read.js";
import { geometryFromAffine, writeNifti } from "../kernel/io/nifti-write.js";
import { screenToVoxel, viewMapping } from "../kernel/io/volume-view.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import type { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import { sidecarPath } from "../widgets/segment-canvas/kernel/load-labels.js";
import { stampSegment } from "../widgets/segment-canvas/common/brush.js";
import { decodeRle, decodeStack, encodeRle, toBase64 } from "../widgets/segment-canvas/common/mask-codec.js";
import type { SegmentCanvasState } from "../widgets/segment-canvas/common/state.js";
import { makePhantom } from "./helpers/phantom3d.js";

const MODEL_DIR = join(import.meta.dirname, "..", "models", "analytic");
const W = 96;
const H = 64;

let model: SamModel;
let dir: string;

beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
  dir = mkdtempSync(join(tmpdir(), "widget-edit-"));
});
afterAll(async () => {
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function image(): { width: number; height: number; channels: number; data: Uint8Array } {
  const data = new Uint8Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
  return { width: W, height: H, channels: 1, data };
}

/** A disc of radius r at (cx, cy) on a W x H slice, as the brush stamps it. */
function disc(cx: number, cy: number, r: number, w = W, h = H): Uint8Array {
  const m = new Uint8Array(w * h);
  stampSegment(m, w, h, cx, cy, cx, cy, r);
  return m;
}

const count = (m: ArrayLike<number>, v = 1) => Array.from(m).filter((x) => x === v).length;

function state(f: FakeFrontend, w: SegmentCanvas): Partial<SegmentCanvasState> & Record<string, unknown> {
  return f.model(w.modelId).state as Partial<SegmentCanvasState> & Record<string, unknown>;
}

/** Slice z of a mask-codec stack field as a front end decodes it. */
function sliceOf(bytes: unknown, z: number, w: SegmentCanvas): Uint16Array {
  const out = new Uint16Array(w.width * w.height);
  const rle = decodeStack(bytes as Uint8Array, w).slices.get(z);
  if (rle) decodeRle(rle, w.width * w.height, out);
  return out;
}

let seq = 0;
function strokeFromFrontend(f: FakeFrontend, w: SegmentCanvas, z: number, target: number, erase: boolean, footprint: Uint8Array): Promise<void> {
  const action = { type: "stroke", z, target, erase, mask: toBase64(encodeRle(footprint)) };
  return f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action });
}

describe("brush and eraser from the front end", () => {
  let f: FakeFrontend;
  let w: SegmentCanvas;

  beforeAll(async () => {
    f = new FakeFrontend();
    w = segmentCanvas(model, image(), { runtime: f.runtime });
    await w.whenIdle();
  });

  it("a stroke with nothing segmented starts the current object; its message is small; it is one undo step", async () => {
    const footprint = disc(30, 30, 6);
    const bytes = toBase64(encodeRle(footprint)).length;
    expect(bytes, "a stroke travels as a few dozen bytes, not a slice").toBeLessThan(200);
    await strokeFromFrontend(f, w, 0, 0, false, footprint);
    await w.whenIdle();
    const shown = sliceOf(state(f, w).current, 0, w);
    expect(Array.from(shown)).toEqual(Array.from(footprint));
    expect(state(f, w).current_for).toEqual({ client: "test", seq });
    await strokeFromFrontend(f, w, 0, 0, true, disc(30, 30, 3));
    await w.whenIdle();
    expect(count(w.current!)).toBe(count(footprint) - count(disc(30, 30, 3)));
    await w.undo();
    expect(count(w.current!)).toBe(count(footprint));
  });

  it("paint after a click adds to SAM's mask and is not redone by the decoder; commit keeps both", async () => {
    await w.clear();
    await w.addPoint(60, 30);
    const sam = w.current!;
    expect(count(sam)).toBeGreaterThan(0);
    const extra = disc(10, 10, 4);
    await strokeFromFrontend(f, w, 0, 0, false, extra);
    await w.whenIdle();
    const painted = w.current!;
    for (let i = 0; i < painted.length; i++) expect(painted[i]).toBe(sam[i]! | extra[i]!);
    const committed = await w.commit();
    expect(committed.voxels).toBe(count(painted));
    expect(w.objects.map((o) => o.name)).toEqual(["object 1"]);
  });

  it("brush and eraser on a committed object: the label map and the front end's labels follow; labels_for names the stroke", async () => {
    const before = w.labels.slice();
    const add = disc(80, 50, 5);
    await strokeFromFrontend(f, w, 0, 1, false, add);
    await w.whenIdle();
    expect(state(f, w).labels_for).toEqual({ client: "test", seq });
    let labels = w.labels;
    for (let i = 0; i < labels.length; i++) expect(labels[i]).toBe(before[i] || add[i] ? 1 : 0);
    expect(Array.from(sliceOf(state(f, w).labels, 0, w))).toEqual(Array.from(labels));
    const cut = disc(60, 30, 3);
    await strokeFromFrontend(f, w, 0, 1, true, cut);
    await w.whenIdle();
    labels = w.labels;
    for (let i = 0; i < labels.length; i++) expect(labels[i]).toBe((before[i] || add[i]) && !cut[i] ? 1 : 0);
    expect(w.objects[0]!.voxels).toBe(count(labels));
  });

  it("a stroke for a label that does not exist is refused and shown, and changes nothing", async () => {
    const labels = w.labels.slice();
    const errors = state(f, w).error_seq as number;
    await strokeFromFrontend(f, w, 0, 9, false, disc(5, 5, 2));
    await w.whenIdle();
    expect(state(f, w).error).toMatch(/no object with label 9/);
    expect(state(f, w).error_seq).toBe(errors + 1);
    expect(Array.from(w.labels)).toEqual(Array.from(labels));
  });

  it("rename and relabel from the front end reach w.objects", async () => {
    await f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action: { type: "rename_object", label: 1, name: "left blob" } });
    await f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action: { type: "relabel_object", label: 1, to: 5 } });
    await w.whenIdle();
    expect(w.objects.map((o) => [o.label, o.name])).toEqual([[5, "left blob"]]);
    expect((state(f, w).objects as { label: number; name: string }[]).map((o) => [o.label, o.name])).toEqual([[5, "left blob"]]);
    expect(new Set(w.labels)).toEqual(new Set([0, 5]));
  });
});

describe("starting from labels, loadLabels, and reopening an autosave", () => {
  it("labels as an array become editable objects, with ids kept", async () => {
    const f = new FakeFrontend();
    const map = new Uint16Array(W * H);
    disc(20, 20, 5).forEach((v, i) => v && (map[i] = 3));
    disc(60, 40, 7).forEach((v, i) => v && (map[i] = 8));
    const w = segmentCanvas(model, image(), { runtime: f.runtime, labels: map });
    expect(await w.loaded).toBe(2);
    expect(w.objects.map((o) => [o.label, o.name, o.voxels])).toEqual([[3, "object 3", count(map, 3)], [8, "object 8", count(map, 8)]]);
    expect(Array.from(w.labels)).toEqual(Array.from(map));
    expect(Array.from(sliceOf(state(f, w).labels, 0, w))).toEqual(Array.from(map));
    // the next object the user commits gets a free label; the loaded ones are not an undo step
    expect(state(f, w).next_label).toBe(9);
    expect(state(f, w).can_undo).toBe(false);
    await w.paint(disc(20, 20, 2), { label: 3, erase: true });
    expect(w.objects[0]!.voxels).toBe(count(map, 3) - count(disc(20, 20, 2)));
  });

  it("w.loadLabels replaces the objects in one undo step; a wrong size is refused with the size it needs", async () => {
    const f = new FakeFrontend();
    const w = segmentCanvas(model, image(), { runtime: f.runtime });
    await w.paint(disc(40, 30, 6));
    await w.commit();
    const mine = w.labels.slice();
    const other = new Uint16Array(W * H);
    disc(70, 20, 4).forEach((v, i) => v && (other[i] = 2));
    const objects = await w.loadLabels(other);
    expect(objects.map((o) => o.label)).toEqual([2]);
    expect(Array.from(w.labels)).toEqual(Array.from(other));
    await w.undo();
    expect(Array.from(w.labels)).toEqual(Array.from(mine));
    await expect(w.loadLabels(new Uint16Array(10))).rejects.toThrow(`needs ${W * H}`);
  });

  it("save writes the names beside the labels; {labels: path} reads both back (PNG)", async () => {
    const f = new FakeFrontend();
    const w = segmentCanvas(model, image(), { runtime: f.runtime });
    await w.paint(disc(30, 30, 5));
    await w.commit();
    await w.paint(disc(70, 40, 5));
    await w.commit();
    await w.renameObject(2, "right one");
    const path = join(dir, "two.png");
    await w.save(path);
    expect(JSON.parse(readFileSync(sidecarPath(path), "utf8"))).toEqual({ objects: [{ label: 1, name: "object 1" }, { label: 2, name: "right one" }] });
    const again = segmentCanvas(model, image(), { runtime: new FakeFrontend().runtime, labels: path });
    expect(await again.loaded).toBe(2);
    expect(again.objects).toEqual(w.objects);
    expect(Array.from(again.labels)).toEqual(Array.from(w.labels));
  });

  it("autosave + reopen: a new canvas on the same file (as after a kernel restart) has the same objects, names and voxels", async () => {
    const ph = makePhantom({ dims: [40, 36, 8] });
    const volPath = join(dir, "vol.nii.gz");
    await writeNifti(volPath, { dims: [...ph.dims], data: ph.image, datatype: "float32", geometry: geometryFromAffine(ph.affine) });
    const volume = await readNifti(volPath);
    const autosave = join(dir, "session", "labels.nii.gz");
    const first = segmentCanvas(model, volume, { runtime: new FakeFrontend().runtime, autosave });
    expect(await first.loaded).toBe(0);
    const m = viewMapping(volume, "axial");
    await first.paint(disc(12, 12, 4, m.width, m.height), { z: 3 });
    await first.paint(disc(12, 12, 3, m.width, m.height), { z: 4 });
    await first.commit();
    await first.paint(disc(28, 20, 4, m.width, m.height), { z: 5 });
    await first.commit();
    await first.renameObject(1, "tumour");
    await first.autosaved();
    first.close();
    expect(existsSync(sidecarPath(autosave))).toBe(true);

    const reopened = segmentCanvas(model, volume, { runtime: new FakeFrontend().runtime, autosave });
    expect(await reopened.loaded).toBe(2);
    expect(reopened.objects).toEqual(first.objects);
    expect(reopened.objects.map((o) => [o.name, o.slices])).toEqual([["tumour", [3, 4]], ["object 2", [5]]]);
    expect(Array.from(reopened.labels)).toEqual(Array.from(first.labels));
    // the voxel under the painted disc's centre on view slice 3
    const [i, j, k] = screenToVoxel(m, volume.dims, 3, 12, 12);
    expect(reopened.labels[i + volume.dims[0] * (j + volume.dims[1] * k)]).toBe(1);
    // and it goes on from there: the next commit is label 3
    await reopened.paint(disc(5, 5, 2, m.width, m.height), { z: 0 });
    expect((await reopened.commit()).label).toBe(3);
    await reopened.autosaved();
    const fresh = segmentCanvas(model, volume, { runtime: new FakeFrontend().runtime, autosave, resume: false });
    expect(await fresh.loaded).toBe(0);
  });

  it("an autosave file that cannot be read is reported and left alone (autosave turns off)", async () => {
    const autosave = join(dir, "broken.png");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(autosave, "not a png");
    const f = new FakeFrontend();
    const w = segmentCanvas(model, image(), { runtime: f.runtime, autosave });
    expect(await w.loaded).toBe(0);
    expect(state(f, w).error).toMatch(/could not open .*broken\.png.*autosave is off/);
    await w.paint(disc(30, 30, 4));
    await w.commit();
    await w.autosaved();
    expect(readFileSync(autosave, "utf8")).toBe("not a png");
  });
});
