/**
 * SAM's candidate masks, kernel side, with the analytic model in onnxruntime and a front end
 * played in-process: after a single click the front end receives the three multimask answers
 * (compact RLE), `w.candidates` lists them, keys 1-3 (`pick_candidate`) and `w.pickCandidate`
 * show another, undo goes back to micro_sam's choice, and any other prompt drops them. The
 * expected masks and IoUs come from the model's own `segment` on the same image.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import type { SegmentResult } from "../kernel/sam/segment-result.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import type { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import { decodeRle, fromBase64 } from "../widgets/segment-canvas/common/mask-codec.js";
import type { CandidateSet } from "../widgets/segment-canvas/common/state.js";

const MODEL_DIR = join(import.meta.dirname, "..", "models", "analytic");
const W = 96;
const H = 64;
const CLICK = { x: 60, y: 30 };

let model: SamModel;
let reference: SegmentResult;
let f: FakeFrontend;
let w: SegmentCanvas;

function image(): { width: number; height: number; channels: number; data: Uint8Array } {
  const data = new Uint8Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
  return { width: W, height: H, channels: 1, data };
}

const candidatesSent = () => f.model(w.modelId).state.candidates as CandidateSet | null;
let seq = 0;
const fromFrontend = (action: object) => f.frontendCustom(w.modelId, { kind: "action", client: "test", seq: ++seq, action });

beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
  reference = await model.segment(await model.embed(image()), { points: [{ ...CLICK, positive: true }] });
  f = new FakeFrontend();
  w = segmentCanvas(model, image(), { runtime: f.runtime });
  await w.whenIdle();
});
afterAll(async () => {
  await model?.dispose();
});

describe("candidates after a single click", () => {
  it("the model answers one click four ways (the test needs three distinct multimask masks)", () => {
    const areas = reference.candidates.filter((c) => c.token > 0).map((c) => c.mask.reduce((a, b) => a + b, 0));
    expect(new Set(areas).size).toBe(3);
    expect(reference.token).toBeGreaterThan(0);
  });

  it("the front end gets tokens 1-3 with their predicted IoU, the rule's choice marked and shown, each mask a small RLE", async () => {
    expect(candidatesSent()).toBeNull();
    await w.addPoint(CLICK.x, CLICK.y);
    const sent = candidatesSent()!;
    expect(sent.z).toBe(0);
    expect(sent.items.map((c) => c.token)).toEqual([1, 2, 3]);
    for (const c of sent.items) {
      const ref = reference.candidates[c.token]!;
      expect(c.iou).toBeCloseTo(ref.iou, 6);
      expect(c.chosen).toBe(c.token === reference.token);
      expect(Array.from(decodeRle(fromBase64(c.mask), W * H))).toEqual(Array.from(ref.mask));
      expect(c.mask.length, "an RLE mask, not the pixels").toBeLessThan((W * H) / 8);
    }
    expect(sent.shown).toBe(reference.token);
    expect(Array.from(w.current!)).toEqual(Array.from(reference.mask));
    const listed = w.candidates!;
    expect(listed.items.map((c) => [c.token, c.shown])).toEqual([1, 2, 3].map((t) => [t, t === reference.token]));
    expect(Array.from(listed.items[0]!.mask)).toEqual(Array.from(reference.candidates[1]!.mask));
  });

  it("key 1 from the front end shows candidate 1 (one undo step); w.pickCandidate(3) shows 3; undo goes back", async () => {
    const other = [1, 2, 3].find((t) => t !== reference.token)!;
    await fromFrontend({ type: "pick_candidate", token: other });
    await w.whenIdle();
    expect(Array.from(w.current!)).toEqual(Array.from(reference.candidates[other]!.mask));
    expect(candidatesSent()!.shown).toBe(other);
    expect(w.history.at(-1)).toMatchObject({ origin: "frontend", action: { type: "pick_candidate", token: other }, ok: true });
    const third = [1, 2, 3].find((t) => t !== reference.token && t !== other)!;
    await w.pickCandidate(third);
    expect(Array.from(w.current!)).toEqual(Array.from(reference.candidates[third]!.mask));
    await w.undo();
    expect(Array.from(w.current!)).toEqual(Array.from(reference.candidates[other]!.mask));
    await w.undo();
    expect(Array.from(w.current!)).toEqual(Array.from(reference.mask));
    expect(candidatesSent()!.shown).toBe(reference.token);
  });

  it("a picked candidate is what commit keeps", async () => {
    const other = [1, 2, 3].find((t) => t !== reference.token)!;
    await w.pickCandidate(other);
    const event = await w.commit();
    expect(Array.from(event.mask())).toEqual(Array.from(reference.candidates[other]!.mask));
    expect(candidatesSent()).toBeNull();
    expect(w.candidates).toBeNull();
    await w.undo();
    expect(candidatesSent()!.shown).toBe(other);
  });

  it("a second point or a box drops them; picking then is refused with what to do", async () => {
    await w.addPoint(10, 10, { positive: false });
    expect(candidatesSent()).toBeNull();
    await expect(w.pickCandidate(1)).rejects.toThrow(/click the object once/);
    expect(f.model(w.modelId).state.error).toMatch(/no candidates to pick from/);
    await w.clear();
    await w.setBox({ x0: 40, y0: 20, x1: 80, y1: 40 });
    expect(candidatesSent()).toBeNull();
  });
});
