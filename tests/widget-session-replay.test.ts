/**
 * Sessions as data: a canvas driven through the in-process front end (fake-frontend.ts) and
 * from code exports its session; `replaySession` re-runs it headlessly. On the analytic model
 * (closed-form masks) the replay on the same model must reproduce every object exactly; on the
 * demo model a click object differs (Dice strictly between 0 and 1, checked against the label
 * maps themselves and against a live demo canvas fed the same actions), while an object drawn
 * only with the brush comes out the same. The JSON goes through a file; another image is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dice } from "../kernel/analysis/metrics.js";
import { DISPLAY } from "../kernel/display/plotly.js";
import type { Image2D } from "../kernel/io/image.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { geometryFromAffine, writeNifti } from "../kernel/io/nifti-write.js";
import { imageFromArray } from "../kernel/io/read-image.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import { PHANTOM, valueAt } from "../widgets/harness/phantom.js";
import type { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import { replaySession, type SessionReplay } from "../widgets/segment-canvas/kernel/replay.js";
import type { CanvasSession } from "../widgets/segment-canvas/kernel/session.js";
import { stampSegment } from "../widgets/segment-canvas/common/brush.js";
import { encodeRle, toBase64 } from "../widgets/segment-canvas/common/mask-codec.js";
import { makePhantom } from "./helpers/phantom3d.js";

const MODELS = join(import.meta.dirname, "..", "models");
const { width: W, height: H } = PHANTOM;

let analytic: SamModel;
let demo: SamModel;
let dir: string;

function phantom(change?: (px: Int16Array) => void): Image2D {
  const px = new Int16Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px[y * W + x] = valueAt(x, y);
  change?.(px);
  return imageFromArray(px, [H, W]);
}

/** The phantom's organs as a reference label map, with ids unlike the canvas's (7, 8, 9). */
function reference(): Uint16Array {
  const out = new Uint16Array(W * H);
  PHANTOM.organs.forEach((o, k) => {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (((x - o.center[0]) / o.radii[0]) ** 2 + ((y - o.center[1]) / o.radii[1]) ** 2 <= 1) out[y * W + x] = 7 + k;
  });
  return out;
}

function disc(cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(W * H);
  stampSegment(m, W, H, cx, cy, cx, cy, r);
  return m;
}

const is = (labels: ArrayLike<number>, label: number) => Uint8Array.from(labels as ArrayLike<number>, (v) => (v === label ? 1 : 0));

let seq = 0;
function fromFrontend(f: FakeFrontend, w: SegmentCanvas, action: Record<string, unknown>): Promise<void> {
  return f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action });
}

/**
 * The session the tests replay: a click object (with a stroke on it), a box object, a
 * two-click object with an undo/redo, a strokes-only object in the air, a rename; some from
 * the front end, some from code.
 */
async function annotate(w: SegmentCanvas, f: FakeFrontend): Promise<void> {
  await w.whenIdle();
  await fromFrontend(f, w, { type: "add_point", x: 180, y: 200, z: 0, positive: true });
  await w.whenIdle();
  await w.paint(disc(150, 200, 5));
  await w.commit(); // 1: click + stroke (liver)
  await w.setBox({ x0: 300, y0: 190, x1: 380, y1: 250 });
  await fromFrontend(f, w, { type: "commit" });
  await w.whenIdle(); // 2: box (kidney)
  await w.addPoint(262, 360);
  await w.addPoint(200, 430, { positive: false });
  await w.undo();
  await w.redo();
  await w.commit(); // 3: two clicks (spleen)
  await fromFrontend(f, w, { type: "stroke", z: 0, target: 0, erase: false, mask: toBase64(encodeRle(disc(40, 40, 9))) });
  await w.whenIdle();
  await w.erase(disc(44, 40, 3));
  await w.commit(); // 4: strokes only, in the air
  await w.renameObject(4, "marker");
}

beforeAll(async () => {
  analytic = await loadModel(join(MODELS, "analytic"));
  demo = await loadModel(join(MODELS, "demo"));
  dir = mkdtempSync(join(tmpdir(), "widget-session-"));
});
afterAll(async () => {
  await analytic?.dispose();
  await demo?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("a session exported from the analytic model", () => {
  let f: FakeFrontend;
  let w: SegmentCanvas;
  let session: CanvasSession;
  let path: string;

  beforeAll(async () => {
    f = new FakeFrontend();
    w = segmentCanvas(analytic, phantom(), { runtime: f.runtime });
    await annotate(w, f);
    session = await w.exportSession();
    path = join(dir, "session.json");
    writeFileSync(path, JSON.stringify(session));
  }, 120_000);

  it("records every accepted action per object, with the model and image identity", () => {
    expect(session.model.name).toBe("analytic-test");
    expect(session.model.checksum.encoder).toBe(analytic.manifest.encoder.sha256);
    expect(session.model.checksum.decoder).toBe(analytic.manifest.decoder.sha256);
    expect(session.image).toMatchObject({ kind: "image", width: W, height: H, depth: 1, view: null });
    expect(session.image.sha256).toMatch(/^[0-9a-f]{64}$/);
    const types = session.events.map((e) => (e.kind === "action" ? e.action.type : e.kind));
    expect(types).toEqual(["add_point", "stroke", "commit", "set_box", "commit", "add_point", "add_point", "undo", "redo", "commit", "stroke", "stroke", "commit", "rename_object"]);
    expect(session.objects.map((o) => [o.label, o.name])).toEqual([
      [1, "object 1"],
      [2, "object 2"],
      [3, "object 3"],
      [4, "marker"],
    ]);
    expect(session.objects[0]!.events).toEqual([0, 1, 2]);
    expect(session.objects[3]!.events).toEqual([10, 11, 12, 13]);
    expect(session.objects.map((o) => o.voxels)).toEqual(w.objects.map((o) => o.voxels));
  });

  it("replays from its JSON file on the same model with Dice 1 for every object", async () => {
    const replay = await replaySession(analytic, phantom(), path);
    expect(replay.skipped).toEqual([]);
    expect(replay.objects.map((o) => o.label)).toEqual([1, 2, 3, 4]);
    for (const o of replay.objects) expect(o.diceReplayVsOriginal, o.name).toBe(1);
    expect(Array.from(replay.labels)).toEqual(Array.from(w.labels));
  }, 120_000);

  describe("on the demo model", () => {
    let replay: SessionReplay;
    let live: SegmentCanvas;

    beforeAll(async () => {
      replay = await replaySession(demo, phantom(), JSON.parse(JSON.stringify(session)) as CanvasSession, { reference: reference() });
      const g = new FakeFrontend();
      live = segmentCanvas(demo, phantom(), { runtime: g.runtime });
      await annotate(live, g);
    }, 180_000);

    it("gives what a live demo canvas given the same actions gives", () => {
      expect(replay.skipped).toEqual([]);
      expect(Array.from(replay.labels)).toEqual(Array.from(live.labels));
    });

    it("scores each object against the recorded run: a click object differs, the strokes-only object does not", () => {
      for (const o of replay.objects) expect(o.diceReplayVsOriginal).toBeCloseTo(dice(is(replay.labels, o.label), is(w.labels, o.label)), 12);
      const click = replay.objects[0]!;
      expect(click.diceReplayVsOriginal).toBeGreaterThan(0);
      expect(click.diceReplayVsOriginal).toBeLessThan(1);
      expect(replay.objects[3]!.diceReplayVsOriginal).toBe(1);
      expect(replay.objects[3]!.name).toBe("marker");
    });

    it("scores both runs against reference labels, matched by overlap", () => {
      const ref = reference();
      expect(replay.objects.slice(0, 3).map((o) => o.referenceLabel)).toEqual([7, 8, 9]);
      expect(replay.objects[3]!.referenceLabel).toBe(0);
      for (const o of replay.objects.slice(0, 3)) {
        expect(o.diceOriginalVsReference).toBeCloseTo(dice(is(w.labels, o.label), is(ref, o.referenceLabel!)), 12);
        expect(o.diceReplayVsReference).toBeCloseTo(dice(is(replay.labels, o.label), is(ref, o.referenceLabel!)), 12);
      }
    });

    it("displays a chart and a table of the same numbers", async () => {
      const bundle = await replay[DISPLAY]();
      expect(bundle["text/html"]).toContain("Dice replay vs original");
      expect(bundle["text/plain"]).toContain("marker");
      const fig = replay.chart().figure;
      expect(fig.data.map((t) => t.name)).toEqual(["demo vs analytic-test", "analytic-test vs reference", "demo vs reference"]);
      expect(fig.data[0]!.y).toEqual(replay.objects.map((o) => o.diceReplayVsOriginal));
      const table = replay.table()[DISPLAY]();
      expect(table["text/html"]).toContain("<table");
    });
  });

  it("refuses another image, naming both, unless told to replay anyway", async () => {
    const other = phantom((px) => (px[0] = 123));
    await expect(replaySession(analytic, other, session)).rejects.toThrow(new RegExp(`recorded on image 512x512.*${session.image.sha256.slice(0, 12)}.*not on this image \\(image 512x512.*ignoreImageMismatch`));
    const forced = await replaySession(analytic, other, session, { ignoreImageMismatch: true });
    expect(forced.objects).toHaveLength(4);
  }, 120_000);
});

describe("loaded labels in a session", () => {
  it("the starting labels and a loadLabels replay on another model as they were", async () => {
    const f = new FakeFrontend();
    const start = new Uint16Array(W * H);
    disc(60, 60, 10).forEach((v, i) => v && (start[i] = 5));
    const w = segmentCanvas(analytic, phantom(), { runtime: f.runtime, labels: start });
    await w.loaded;
    await w.renameObject(5, "start");
    const more = new Uint16Array(W * H);
    disc(450, 60, 8).forEach((v, i) => v && (more[i] = 9));
    await w.loadLabels(more, { replace: false });
    await w.addPoint(180, 200);
    await w.commit();
    const session = await w.exportSession();
    expect(session.events.map((e) => e.kind)).toEqual(["load", "action", "load", "action", "action"]);
    const replay = await replaySession(demo, phantom(), JSON.stringify(session));
    expect(replay.skipped).toEqual([]);
    const byLabel = new Map(replay.objects.map((o) => [o.label, o]));
    expect([...byLabel.keys()].sort((a, b) => a - b)).toEqual([5, 9, 10]);
    expect(byLabel.get(5)!.diceReplayVsOriginal).toBe(1);
    expect(byLabel.get(5)!.name).toBe("start");
    expect(byLabel.get(9)!.diceReplayVsOriginal).toBe(1);
    expect(byLabel.get(10)!.diceReplayVsOriginal).toBeLessThan(1);
  }, 120_000);
});

describe("a volume session", () => {
  it("records the view and replays a click and a propagation on the same model with Dice 1; another view is refused", async () => {
    const ph = makePhantom({ dims: [64, 48, 24] });
    const volPath = join(dir, "vol.nii.gz");
    await writeNifti(volPath, { dims: [...ph.dims], data: ph.image, datatype: "float32", geometry: geometryFromAffine(ph.affine) });
    const volume = await readNifti(volPath);
    const f = new FakeFrontend();
    const w = segmentCanvas(analytic, volume, { runtime: f.runtime, view: "coronal" });
    await w.whenIdle();
    await w.addPoint(30, Math.floor(w.height / 2), { z: Math.floor(w.depth / 2) });
    await w.propagate();
    await w.commit();
    const session = await w.exportSession();
    expect(session.image).toMatchObject({ kind: "volume", view: "coronal", width: w.width, height: w.height, depth: w.depth });
    const replay = await replaySession(analytic, volume, JSON.stringify(session), { reference: ph.labels });
    expect(replay.skipped).toEqual([]);
    expect(replay.objects.map((o) => o.diceReplayVsOriginal)).toEqual([1]);
    expect(Array.from(replay.labels)).toEqual(Array.from(w.labels));
    expect(replay.objects[0]!.diceReplayVsReference).toBeCloseTo(dice(is(w.labels, 1), is(ph.labels, replay.objects[0]!.referenceLabel!)), 12);
    const axial = { ...session, image: { ...session.image, view: "axial" } };
    await expect(replaySession(analytic, volume, axial)).rejects.toThrow(/recorded on volume \d+x\d+x\d+ axial view.*not on this image \(volume \d+x\d+x\d+ axial view/);
  }, 180_000);
});
