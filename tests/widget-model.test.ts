/**
 * The segmentation canvas, kernel side, with the real analytic model in onnxruntime and a
 * front end played in-process (widgets/harness/fake-frontend.ts) over the real Widget protocol
 * code. Expected masks come from the analytic model's formula (discs around clicks), not
 * from the code under test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImage } from "../kernel/io/read-image.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import { geometryFromAffine } from "../kernel/io/nifti-write.js";
import { screenToVoxel, viewMapping } from "../kernel/io/volume-view.js";
import type { Volume } from "../kernel/io/volume.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { decodeRle, decodeStack } from "../widgets/segment-canvas/common/mask-codec.js";
import type { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import { imageSource } from "../widgets/segment-canvas/kernel/source.js";
import type { SegmentCanvasState } from "../widgets/segment-canvas/common/state.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import { makePhantom } from "./helpers/phantom3d.js";

const MODEL_DIR = join(import.meta.dirname, "..", "models", "analytic");
// Analytic model radii in the 1024 frame: single positive click 64 (multimask auto picks
// token 2), any other prompt 96; negative points cut 48.
const W = 256;
const H = 192;
const SCALE = 1024 / Math.max(W, H); // 4
const R_CLICK = 64 / SCALE;
const R_OTHER = 96 / SCALE;
const R_NEG = 48 / SCALE;
/** Pixels this close to a disc edge may go either way (low-res grid, bilinear upsampling). */
const EDGE = 3;

let model: SamModel;
let dir: string;

beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
  dir = mkdtempSync(join(tmpdir(), "widget-model-"));
});
afterAll(async () => {
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A CT-like int16 slice: -1000 outside a body ellipse, 40 inside, 200 in an organ. */
function phantomSlice(): { width: number; height: number; channels: number; data: Int16Array } {
  const data = new Int16Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const body = ((x - 128) / 110) ** 2 + ((y - 96) / 80) ** 2 <= 1;
      const organ = (x - 100) ** 2 + (y - 80) ** 2 <= 20 ** 2;
      data[y * W + x] = organ ? 200 : body ? 40 : -1000;
    }
  }
  return { width: W, height: H, channels: 1, data };
}

function state(f: FakeFrontend, w: SegmentCanvas): Partial<SegmentCanvasState> & Record<string, unknown> {
  return f.model(w.modelId).state as Partial<SegmentCanvasState> & Record<string, unknown>;
}

/** The front end's view of a mask-codec stack field, slice z. */
function sliceOf(bytes: unknown, z: number, w: { width: number; height: number; depth: number }): Uint16Array {
  const stack = decodeStack(bytes as Uint8Array, w);
  const out = new Uint16Array(w.width * w.height);
  const rle = stack.slices.get(z);
  if (rle) decodeRle(rle, w.width * w.height, out);
  return out;
}

let seq = 0;
function action(f: FakeFrontend, w: SegmentCanvas, a: Record<string, unknown>): Promise<void> {
  return f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action: a });
}

/** Mask pixels vs. the analytic formula: inside(x, y) gives the signed distance to the edge (> 0 inside). */
function checkAgainst(mask: ArrayLike<number>, width: number, height: number, margin: (x: number, y: number) => number): { area: number; wrong: number } {
  let area = 0;
  let wrong = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const m = mask[y * width + x] ? 1 : 0;
      area += m;
      const d = margin(x, y);
      if (d > EDGE && !m) wrong++;
      if (d < -EDGE && m) wrong++;
    }
  }
  return { area, wrong };
}

const dist = (x: number, y: number, cx: number, cy: number) => Math.hypot(x - cx, y - cy);

describe("segmentCanvas on a 2D image", () => {
  let f: FakeFrontend;
  let w: SegmentCanvas;

  beforeAll(async () => {
    f = new FakeFrontend();
    w = segmentCanvas(model, phantomSlice(), { runtime: f.runtime, title: "phantom" });
    await w.whenIdle();
  });

  it("opens the comm with the image as binary and the widget identity", () => {
    const open = f.sent.find((m) => m.kind === "open" && m.commId === w.modelId)!;
    expect(open.data.state).toMatchObject({
      _model_module: "medicosam-widgets",
      _model_name: "SegmentCanvasModel",
      _view_name: "SegmentCanvasView",
      width: W,
      height: H,
      depth: 1,
      channels: 1,
      dtype: "int16",
      value_range: [-1000, 200],
      title: "phantom",
      notice: model.notice,
    });
    // pixels travel as one buffer holding the int16 values, little-endian
    const s = state(f, w);
    const pixels = s.pixels as Uint8Array;
    expect(pixels.byteLength).toBe(W * H * 2);
    const values = new Int16Array(pixels.slice().buffer);
    expect(values[80 * W + 100]).toBe(200);
    expect(values[0]).toBe(-1000);
    expect(open.data.buffer_paths).toContainEqual(["pixels"]);
    // CT-like values get the CT presets
    expect((s.window_presets as { name: string }[]).map((p) => p.name)).toContain("abdomen");
  });

  it("embeds at once and reports ready", () => {
    expect(state(f, w).status).toBe("ready");
  });

  it("segments a click, sends the mask compactly and says which action it answers", async () => {
    await action(f, w, { type: "add_point", x: 100, y: 80, z: 0, positive: true });
    await w.whenIdle();
    const s = state(f, w);
    const mask = sliceOf(s.current, 0, w);
    const { area, wrong } = checkAgainst(mask, W, H, (x, y) => R_CLICK - dist(x, y, 100, 80));
    expect(wrong).toBe(0);
    expect(area).toBeGreaterThan(Math.PI * (R_CLICK - 1) ** 2);
    expect(area).toBeLessThan(Math.PI * (R_CLICK + 1) ** 2);
    expect((s.current as Uint8Array).byteLength).toBeLessThan(400);
    expect(s.current_for).toEqual({ client: "test", seq });
    expect(s.ack).toEqual({ client: "test", seq });
    expect(s.prompts).toEqual({ points: [{ id: 1, x: 100, y: 80, z: 0, positive: true }], boxes: [] });
    expect(s.can_undo).toBe(true);
    // The notebook sees the same mask.
    expect(Array.from(w.current!)).toEqual(Array.from(mask, (v) => v));
  });

  it("limits the mask to a box, cuts it with a negative click, and undo restores it exactly", async () => {
    await action(f, w, { type: "set_box", x0: 85, y0: 60, x1: 130, y1: 110, z: 0 });
    await w.whenIdle();
    const boxed = sliceOf(state(f, w).current, 0, w);
    const inBox = (x: number, y: number) => Math.min(x - 85, 130 - x, y - 60, 110 - y);
    const r1 = checkAgainst(boxed, W, H, (x, y) => Math.min(R_OTHER - dist(x, y, 100, 80), inBox(x, y)));
    expect(r1.wrong).toBe(0);

    await action(f, w, { type: "add_point", x: 112, y: 80, z: 0, positive: false });
    await w.whenIdle();
    const cut = sliceOf(state(f, w).current, 0, w);
    const r2 = checkAgainst(cut, W, H, (x, y) => Math.min(R_OTHER - dist(x, y, 100, 80), inBox(x, y), dist(x, y, 112, 80) - R_NEG));
    expect(r2.wrong).toBe(0);
    expect(r2.area).toBeLessThan(r1.area - 0.8 * Math.PI * R_NEG ** 2 * 0.5);

    await action(f, w, { type: "undo" });
    await w.whenIdle();
    expect(sliceOf(state(f, w).current, 0, w)).toEqual(boxed);
    expect(state(f, w).can_redo).toBe(true);
  });

  it("commits the object as label 1, in the synced state, w.labels and the commit events", async () => {
    const next = w.nextCommit();
    const seen: number[] = [];
    const off = w.onCommit((e) => seen.push(e.label));
    const expected = sliceOf(state(f, w).current, 0, w);
    await action(f, w, { type: "commit" });
    await w.whenIdle();
    off();
    const event = await next;
    expect(event.label).toBe(1);
    expect(seen).toEqual([1]);
    const s = state(f, w);
    const labels = sliceOf(s.labels, 0, w);
    let voxels = 0;
    for (let i = 0; i < labels.length; i++) {
      expect(labels[i]).toBe(expected[i] ? 1 : 0);
      voxels += expected[i] ? 1 : 0;
    }
    expect(event.voxels).toBe(voxels);
    expect(Array.from(event.mask())).toEqual(Array.from(expected));
    expect(s.objects).toEqual([{ label: 1, name: "object 1", voxels, slices: [0] }]);
    expect(s.next_label).toBe(2);
    expect(s.prompts).toEqual({ points: [], boxes: [] });
    expect(decodeStack(s.current as Uint8Array).slices.size).toBe(0);
    expect(Array.from(w.labels)).toEqual(Array.from(labels));
  });

  it("rejects bad messages with a message in the widget and changes nothing", async () => {
    const labelsBefore = state(f, w).labels;
    const promptsBefore = state(f, w).prompts;
    const bad: [unknown, RegExp][] = [
      [{ kind: "action", client: "test", seq: 100, action: { type: "add_point", x: W, y: 5, z: 0, positive: true } }, /x=256 is outside the image/],
      [{ kind: "action", client: "test", seq: 101, action: { type: "remove_object", label: 9 } }, /no object with label 9 \(committed labels: 1\)/],
      [{ kind: "action", client: "test", seq: 102, action: { type: "set_box", x0: "a" } }, /'x0' must be a finite number/],
      ["garbage", /must be an object/],
      [{ kind: "action", client: "test", seq: 103, action: { type: "commit" } }, /nothing to commit/],
    ];
    for (const [content, message] of bad) {
      const before = state(f, w).error_seq as number;
      await f.frontendCustom(w.modelId, content);
      await w.whenIdle();
      expect(state(f, w).error).toMatch(message);
      expect(state(f, w).error_seq).toBe(before + 1);
    }
    expect(state(f, w).ack).toEqual({ client: "test", seq: 103 });
    // A front end may not write kernel-owned state: it is put back.
    await f.frontendUpdate(w.modelId, { labels: new Uint8Array([1, 2, 3]), slice: 0 });
    expect(state(f, w).error).toMatch(/'labels' is written by the kernel only/);
    expect(state(f, w).labels).toEqual(labelsBefore);
    await f.frontendUpdate(w.modelId, { slice: 3 });
    expect(state(f, w).error).toMatch(/slice must be an integer in 0..0, got 3/);
    expect(state(f, w).slice).toBe(0);
    expect(state(f, w).prompts).toEqual(promptsBefore);
    expect(f.handlerErrors).toEqual([]);
    expect(w.objects.map((o) => o.label)).toEqual([1]);
    // The history keeps the rejected actions too.
    expect(w.history.filter((h) => !h.ok).length).toBeGreaterThanOrEqual(2);
    // A good action clears the error.
    await action(f, w, { type: "add_point", x: 40, y: 40, z: 0, positive: true });
    await w.whenIdle();
    expect(state(f, w).error).toBe("");
    await action(f, w, { type: "clear" });
  });

  it("answers request_state with everything a reloaded page needs", async () => {
    const mirror = f.model(w.modelId);
    const before = { ...mirror.state };
    mirror.state = {};
    await f.frontendRequestState(w.modelId);
    expect(mirror.state.labels).toEqual(before.labels);
    expect(mirror.state.pixels).toEqual(before.pixels);
    expect(mirror.state.objects).toEqual(before.objects);
    expect(mirror.state._view_name).toBe("SegmentCanvasView");
  });

  it("is driven from code with the same actions", async () => {
    await w.addPoint(180, 120);
    const area = w.current!.reduce((a, b) => a + b, 0);
    expect(area).toBeGreaterThan(Math.PI * (R_CLICK - 1) ** 2);
    const event = await w.commit();
    expect(event.label).toBe(2);
    expect(w.objects.map((o) => o.label)).toEqual([1, 2]);
    await w.undo();
    expect(w.objects.map((o) => o.label)).toEqual([1]);
    await w.redo();
    expect(w.labels[120 * W + 180]).toBe(2);
    await expect(w.addPoint(-1, 3)).rejects.toThrow(/x=-1 is outside the image/);
  });

  it("saves PNG and NIfTI label maps that read back as w.labels", async () => {
    const png = await w.save(join(dir, "labels.png"));
    expect(png).toMatchObject({ format: "png", maxLabel: 2, labels: [1, 2] });
    const img = await readImage(png.path);
    expect([img.width, img.height, img.channels]).toEqual([W, H, 1]);
    expect(Array.from(img.data)).toEqual(Array.from(w.labels));
    const nii = await w.save(join(dir, "labels.nii.gz"));
    const vol = await readNifti(nii.path);
    expect(vol.dims).toEqual([W, H, 1]);
    expect(Array.from(vol.data)).toEqual(Array.from(w.labels));
    await expect(w.save(join(dir, "labels.tif"))).rejects.toThrow(/\.nii\.gz \/ \.nii \(NIfTI\) or \.png/);
  });

  it("after a burst of clicks, the mask answers the last prompts", async () => {
    const g = new FakeFrontend();
    const v = segmentCanvas(model, phantomSlice(), { runtime: g.runtime });
    await v.whenIdle();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      sends.push(g.frontendCustom(v.modelId, { kind: "action", client: "b", seq: i, action: { type: "add_point", x: 40 + 20 * i, y: 60 + (i % 3) * 30, z: 0, positive: i % 4 !== 3 } }));
    }
    await Promise.all(sends);
    await v.whenIdle();
    const points = v.prompts.points.map((p) => ({ x: p.x, y: p.y, positive: p.positive }));
    expect(points).toHaveLength(8);
    const direct = await model.segment(await model.embed(phantomSlice()), { points });
    expect(Array.from(v.current!)).toEqual(Array.from(direct.mask));
    expect(g.model(v.modelId).state.current_for).toEqual({ client: "b", seq: 7 });
    // Far fewer decoder runs than clicks would be fine; what matters is that the last one answers the last prompts.
    expect(v.timings.decoderMs.length).toBeGreaterThanOrEqual(1);
  });

  it("autosaves the committed labels after every change", async () => {
    const g = new FakeFrontend();
    const path = join(dir, "autosave.png");
    const v = segmentCanvas(model, phantomSlice(), { runtime: g.runtime, autosave: path });
    await v.addPoint(100, 80);
    await v.commit();
    await v.autosaved();
    const first = await readImage(path);
    expect(Array.from(first.data)).toEqual(Array.from(v.labels));
    expect(first.data[80 * W + 100]).toBe(1);
    await v.undo();
    await v.autosaved();
    expect((await readImage(path)).data[80 * W + 100]).toBe(0);
  });

  it("keeps committed labels when the decoder fails", async () => {
    const failing = {
      embed: model.embed.bind(model),
      segment: async () => {
        throw new Error("decoder exploded");
      },
    };
    const g = new FakeFrontend();
    const v = segmentCanvas(failing, phantomSlice(), { runtime: g.runtime });
    await v.whenIdle();
    await g.frontendCustom(v.modelId, { kind: "action", client: "t", seq: 1, action: { type: "add_point", x: 10, y: 10, z: 0, positive: true } });
    await v.whenIdle();
    expect(g.model(v.modelId).state.error).toMatch(/segmenting slice 0 failed: decoder exploded/);
    await g.frontendCustom(v.modelId, { kind: "action", client: "t", seq: 2, action: { type: "commit" } });
    await v.whenIdle();
    expect(g.model(v.modelId).state.error).toMatch(/decoder exploded|could not segment slice 0/);
    expect(v.objects).toEqual([]);
    expect(g.model(v.modelId).state.status).toBe("ready");
  });
});

describe("segmentCanvas on a volume", () => {
  let volume: Volume;
  let f: FakeFrontend;
  let w: SegmentCanvas;

  beforeAll(async () => {
    const ph = makePhantom({ dims: [64, 56, 12] });
    const path = join(dir, "phantom.nii.gz");
    await writeNifti(path, { dims: [...ph.dims], data: ph.image, datatype: "float32", geometry: geometryFromAffine(ph.affine) });
    volume = await readNifti(path);
    f = new FakeFrontend();
    w = segmentCanvas(model, volume, { runtime: f.runtime });
    await w.whenIdle();
  });

  it("shows the axial view, middle slice first, with the orientation", () => {
    const s = state(f, w);
    const m = viewMapping(volume, "axial");
    expect([s.width, s.height, s.depth]).toEqual([m.width, m.height, m.depth]);
    expect(s.slice).toBe(Math.floor((m.depth - 1) / 2));
    expect(s.orientation).toEqual({ left: m.labels.left, top: m.labels.top, toward: m.labels.sliceToward });
    expect(s.dtype).toBe("float32");
    expect((s.pixels as Uint8Array).byteLength).toBe(m.width * m.height * m.depth * 4);
  });

  it("follows the front end's slice and segments prompts on their own slice", async () => {
    await f.frontendUpdate(w.modelId, { slice: 7 });
    expect(state(f, w).slice).toBe(7);
    await action(f, w, { type: "add_point", x: 30, y: 25, z: 7, positive: true });
    await w.whenIdle();
    const stack = decodeStack(state(f, w).current as Uint8Array, w);
    expect([...stack.slices.keys()]).toEqual([7]);
    await action(f, w, { type: "commit" });
    await w.whenIdle();
    const labels = w.labels;
    const m = viewMapping(volume, "axial");
    const [i, j, k] = screenToVoxel(m, volume.dims, 7, 30, 25);
    expect(labels[i + volume.dims[0] * (j + volume.dims[1] * k)]).toBe(1);
    // nothing on other slices
    const [, , k2] = screenToVoxel(m, volume.dims, 3, 30, 25);
    let other = 0;
    for (let jj = 0; jj < volume.dims[1]; jj++) for (let ii = 0; ii < volume.dims[0]; ii++) other += labels[ii + volume.dims[0] * (jj + volume.dims[1] * k2)]!;
    expect(other).toBe(0);
  });

  it("saves NIfTI with the source geometry", async () => {
    const out = await w.save(join(dir, "vol-labels.nii.gz"));
    const back = await readNifti(out.path);
    expect(back.dims).toEqual(volume.dims);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(back.affine[r]![c]).toBeCloseTo(volume.affine[r]![c]!, 5);
    expect(Array.from(back.data)).toEqual(Array.from(w.labels));
    await expect(w.save(join(dir, "vol.png"))).rejects.toThrow(/saved as NIfTI/);
  });

  it("propagates the current object through the volume (Shift+S), as one undo step", async () => {
    // Point + box: the analytic model's "other prompt" disc (radius 96/16 = 6 px here), inside the box.
    // Propagation prompts each next slice with the previous mask's centre (single_point, multimask
    // off), which gives the same disc: IoU 1 with the previous slice, so it runs to both ends.
    await action(f, w, { type: "add_point", x: 30, y: 25, z: 4, positive: true });
    await action(f, w, { type: "set_box", x0: 20, y0: 15, x1: 40, y1: 35, z: 4 });
    await w.whenIdle();
    expect([...decodeStack(state(f, w).current as Uint8Array, w).slices.keys()]).toEqual([4]);
    await action(f, w, { type: "propagate" });
    await w.whenIdle();
    const slices = [...decodeStack(state(f, w).current as Uint8Array, w).slices.keys()];
    expect(slices).toEqual(Array.from({ length: w.depth }, (_, z) => z));
    expect(state(f, w).status).toBe("ready");
    await action(f, w, { type: "undo" });
    await w.whenIdle();
    expect([...decodeStack(state(f, w).current as Uint8Array, w).slices.keys()]).toEqual([4]);
    await action(f, w, { type: "redo" });
    await action(f, w, { type: "commit" });
    await w.whenIdle();
    expect(w.objects.find((o) => o.label === 2)?.slices).toHaveLength(w.depth);
  });

  it("refuses propagation with the reason when there is nothing to propagate or it is off", async () => {
    await action(f, w, { type: "propagate" });
    await w.whenIdle();
    expect(state(f, w).error).toMatch(/nothing to propagate: segment the object on one slice first/);
    const g = new FakeFrontend();
    const off = segmentCanvas(model, volume, { runtime: g.runtime, propagate: false });
    await off.whenIdle();
    expect(g.model(off.modelId).state.can_propagate).toBe(false);
    await expect(off.propagate()).rejects.toThrow(/propagation is turned off/);
    const flat = segmentCanvas(model, phantomSlice(), { runtime: g.runtime });
    await expect(flat.propagate()).rejects.toThrow(/needs a volume/);
  });
});

describe("what the browser gets of an image", () => {
  it("keeps 8/16-bit values as they are, drops alpha, and sends float32 for wider types", () => {
    const rgba = imageSource({ width: 2, height: 1, channels: 4, data: Uint8Array.of(1, 2, 3, 255, 4, 5, 6, 128) });
    expect([rgba.channels, rgba.dtype]).toEqual([3, "uint8"]);
    expect([...rgba.pixelBytes()]).toEqual([1, 2, 3, 4, 5, 6]);
    const u16 = imageSource({ width: 2, height: 1, channels: 1, data: Uint16Array.of(1000, 65535) });
    expect(u16.dtype).toBe("uint16");
    expect([...new Uint16Array(u16.pixelBytes().slice().buffer)]).toEqual([1000, 65535]);
    expect(u16.valueRange).toEqual([1000, 65535]);
    const f64 = imageSource({ width: 1, height: 2, channels: 1, data: Float64Array.of(-0.25, 1e6) });
    expect(f64.dtype).toBe("float32");
    expect([...new Float32Array(f64.pixelBytes().slice().buffer)]).toEqual([-0.25, 1e6]);
    expect(() => imageSource({ width: 2, height: 2, channels: 1, data: new Uint8Array(3) })).toThrow(/has 3 values; 2x2x1 needs 4/);
  });
});
