/**
 * "Segment everything" on the canvas, kernel side, with the analytic model in onnxruntime
 * (a click gives a disc, token 2 of IoU 0.9 the only one above SAM's 0.88) and a front end
 * played in-process: the proposals a front end receives are the generator's masks for the
 * shown slice (each equal to the engine's segment() at its grid point), a click accepts one as
 * the next committed object (undo removes it and shows the proposal again), Shift+click drops
 * one, Esc clears them, and a long run stops when asked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Image2D } from "../kernel/io/image.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import type { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import type { CommitEvent } from "../widgets/segment-canvas/kernel/types.js";
import { decodeRle, decodeStack, fromBase64 } from "../widgets/segment-canvas/common/mask-codec.js";
import { proposalAt } from "../widgets/segment-canvas/common/proposals.js";
import type { SegmentCanvasState, WireProposal } from "../widgets/segment-canvas/common/state.js";

const W = 128;
const H = 128;
let model: SamModel;

beforeAll(async () => {
  model = await loadModel("models/analytic");
});
afterAll(async () => {
  await model?.dispose();
});

function image(): Image2D {
  const data = new Uint8Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
  return { width: W, height: H, channels: 1, data };
}

function state(f: FakeFrontend, w: SegmentCanvas): SegmentCanvasState {
  return f.model(w.modelId).state as unknown as SegmentCanvasState;
}
const wireMask = (p: WireProposal) => decodeRle(fromBase64(p.mask), W * H);
let seq = 0;
const send = (f: FakeFrontend, w: SegmentCanvas, action: object) => f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action });

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("segment everything on the canvas", () => {
  let f: FakeFrontend;
  let w: SegmentCanvas;
  const commits: CommitEvent[] = [];
  let acceptedId = -1;

  beforeAll(async () => {
    f = new FakeFrontend();
    w = segmentCanvas(model, image(), { runtime: f.runtime, automatic: { pointsPerSide: 4, stabilityScoreThresh: 0 } });
    w.onCommit((e) => commits.push(e));
    await w.whenIdle();
  });

  it("A from the front end: progress in the status line, then one proposal per grid point, each the engine's mask at its point", async () => {
    const before = f.sent.length;
    await send(f, w, { type: "segment_everything", z: 0 });
    await until("the proposals", () => state(f, w).proposals.length > 0 && state(f, w).status === "ready");
    const statuses = f.sent.slice(before).map((m) => (m.data as { state?: Partial<SegmentCanvasState> }).state).filter((s) => s?.status_text !== undefined);
    expect(statuses.some((s) => s!.status === "proposing")).toBe(true);
    expect(statuses.some((s) => /^segment everything: 16\/16 points \(A or Esc: stop\)$/.test(s!.status_text!))).toBe(true);
    expect(statuses.at(-1)).toMatchObject({ status: "ready", status_text: "" });
    const wire = state(f, w).proposals;
    expect(wire).toHaveLength(16);
    const embedding = await model.embed(image());
    for (const [i, p] of wire.entries()) {
      const summary = w.proposals[i]!;
      expect(summary.id).toBe(p.id);
      const ref = await model.segment(embedding, { points: [{ x: summary.point[0], y: summary.point[1], positive: true }] });
      expect(Array.from(wireMask(p))).toEqual(Array.from(ref.mask));
      expect(Array.from(summary.mask())).toEqual(Array.from(ref.mask));
      expect(p.area).toBe(ref.mask.reduce((s, v) => s + v, 0));
      expect(p.predicted_iou).toBe(Math.fround(0.9));
      expect(p.z).toBe(0);
    }
    // A proposal travels as a few dozen bytes, not a slice.
    expect(Math.max(...wire.map((p) => p.mask.length))).toBeLessThan(200);
  });

  it("a click on a proposal accepts it as the next committed object; the front end's labels show it, onCommit hears it", async () => {
    const p = state(f, w).proposals[5]!;
    acceptedId = p.id;
    await send(f, w, { type: "accept_proposal", id: p.id });
    await w.whenIdle();
    expect(w.objects).toEqual([{ label: 1, name: "object 1", voxels: p.area, slices: [0] }]);
    const labels = new Uint16Array(W * H);
    decodeRle(decodeStack(state(f, w).labels as Uint8Array, w).slices.get(0)!, W * H, labels);
    expect(Array.from(labels)).toEqual(Array.from(wireMask(p)));
    expect(Array.from(w.labels)).toEqual(Array.from(wireMask(p)));
    expect(state(f, w).proposals.map((q) => q.id)).not.toContain(p.id);
    expect(state(f, w).proposals).toHaveLength(15);
    expect(commits.map((c) => c.label)).toEqual([1]);
    expect(commits[0]!.voxels).toBe(p.area);
  });

  it("Shift+click drops one; the objects stay as they are", async () => {
    const p = state(f, w).proposals[0]!;
    await send(f, w, { type: "drop_proposal", id: p.id });
    await w.whenIdle();
    expect(state(f, w).proposals.map((q) => q.id)).not.toContain(p.id);
    expect(state(f, w).proposals).toHaveLength(14);
    expect(w.objects).toHaveLength(1);
  });

  it("undo takes the accepted object back and shows its proposal again; redo accepts it again", async () => {
    const accepted = w.objects[0]!;
    await send(f, w, { type: "undo" });
    await w.whenIdle();
    expect(w.objects).toEqual([]);
    expect(state(f, w).proposals).toHaveLength(15);
    expect(state(f, w).proposals.find((q) => q.id === acceptedId)?.area).toBe(accepted.voxels);
    await send(f, w, { type: "redo" });
    await w.whenIdle();
    expect(w.objects).toEqual([accepted]);
    expect(state(f, w).proposals).toHaveLength(14);
    expect(state(f, w).proposals.map((q) => q.id)).not.toContain(acceptedId);
  });

  it("accepting from code, and unknown ids refused with a message", async () => {
    const p = w.proposals[0]!;
    const event = await w.acceptProposal(p.id);
    expect(event.label).toBe(2);
    expect(w.objects.map((o) => o.voxels)).toEqual([w.objects[0]!.voxels, p.area]);
    await expect(w.acceptProposal(p.id)).rejects.toThrow(/no proposal/);
    await expect(w.dropProposal(9999)).rejects.toThrow(/no proposal 9999/);
    expect(state(f, w).error).toMatch(/no proposal 9999/);
  });

  it("Esc clears the remaining proposals; the objects stay", async () => {
    await send(f, w, { type: "clear_proposals" });
    await w.whenIdle();
    expect(state(f, w).proposals).toEqual([]);
    expect(w.proposals).toEqual([]);
    expect(w.objects).toHaveLength(2);
  });

  it("a long run stops when asked: its promise rejects, no proposals, the status is ready again", async () => {
    const run = w.segmentEverything({ pointsPerSide: 64, pointsPerBatch: 8 });
    await until("the run to start", () => /points/.test(state(f, w).status_text));
    expect(state(f, w).status).toBe("proposing");
    await send(f, w, { type: "clear_proposals" });
    await expect(run).rejects.toThrow(/stopped/);
    await w.whenIdle();
    expect(state(f, w).status).toBe("ready");
    expect(state(f, w).proposals).toEqual([]);
    expect(w.history.at(-1)).toMatchObject({ action: { type: "clear_proposals" }, ok: true });
  });

  it("options from code: a 2x2 grid gives 4 proposals", async () => {
    const found = await w.segmentEverything({ pointsPerSide: 2 });
    expect(found).toHaveLength(4);
    expect(found.map((p) => p.point)).toEqual([[32, 32], [96, 32], [32, 96], [96, 96]]);
    expect(state(f, w).proposals.map((p) => p.id)).toEqual(found.map((p) => p.id));
  });

  it("a model without an ONNX decoder is reported in the widget, nothing else changes", async () => {
    const g = new FakeFrontend();
    const fake = { embed: model.embed.bind(model), segment: model.segment.bind(model), name: "fake" };
    const v = segmentCanvas(fake, image(), { runtime: g.runtime });
    await v.whenIdle();
    await g.frontendCustom(v.modelId, { kind: "action", client: "t", seq: 1, action: { type: "segment_everything", z: 0 } });
    await until("the error", () => ((g.model(v.modelId).state as { error?: string }).error ?? "") !== "");
    expect((g.model(v.modelId).state as { error: string }).error).toMatch(/segment everything needs a model loaded with loadModel/);
    expect(v.history.at(-1)).toMatchObject({ action: { type: "segment_everything" }, ok: false });
    expect(v.proposals).toEqual([]);
    await expect(v.segmentEverything()).rejects.toThrow(/needs a model loaded with loadModel/);
  });
});

describe("which proposal a click means", () => {
  const disc = (cx: number, cy: number, r: number) => {
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const proposal = (id: number, z: number, m: Uint8Array): WireProposal & { m: Uint8Array } => {
    let x0 = W, y0 = H, x1 = -1, y1 = -1, area = 0;
    m.forEach((v, i) => {
      if (!v) return;
      area++;
      x0 = Math.min(x0, i % W); x1 = Math.max(x1, i % W); y0 = Math.min(y0, Math.floor(i / W)); y1 = Math.max(y1, Math.floor(i / W));
    });
    return { id, z, mask: "", area, bbox: [x0, y0, x1 - x0, y1 - y0], predicted_iou: 0.9, stability_score: 1, m };
  };
  const big = proposal(1, 0, disc(60, 60, 30));
  const small = proposal(2, 0, disc(70, 60, 8));
  const other = proposal(3, 1, disc(60, 60, 40));
  const list = [big, small, other];
  const at = (z: number, x: number, y: number) => proposalAt(list, z, x, y, W, (p) => (p as typeof big).m)?.id;

  it("the smallest proposal under the pointer, only on its slice, nothing outside", () => {
    expect(at(0, 70, 60)).toBe(2);
    expect(at(0, 40, 60)).toBe(1);
    expect(at(1, 70, 60)).toBe(3);
    expect(at(0, 120, 120)).toBeUndefined();
    expect(at(0, -1, 60)).toBeUndefined();
  });
});
