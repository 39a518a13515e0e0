/**
 * The generator with its grid points decoded in a pool of worker threads (decoder-pool.ts)
 * gives the same records as one session on the main thread: the analytic model (closed-form
 * masks) and the demo model (a trained network, where a different thread count could change
 * the arithmetic) on the same embedding, every field compared.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutomaticMaskGenerator, type MaskRecord } from "../kernel/automatic/generator.js";
import type { AutomaticOptions } from "../kernel/automatic/options.js";
import { generatePhantomSlice } from "../kernel/phantom/index.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";

async function both(model: SamModel, options: AutomaticOptions, size: number): Promise<[MaskRecord[], MaskRecord[]]> {
  const image = generatePhantomSlice({ seed: 500_001, modality: "ct", width: size, height: size, depth: 40, slice: 20 });
  const embedding = await model.embed(image, { cache: false });
  const single = new AutomaticMaskGenerator(model, { ...options, decoderWorkers: 0 });
  const pooled = new AutomaticMaskGenerator(model, { ...options, decoderWorkers: 2 });
  try {
    return [await single.generate(embedding), await pooled.generate(embedding)];
  } finally {
    await Promise.all([single.dispose(), pooled.dispose()]);
  }
}

describe("the generator with a pool of decoder workers", () => {
  let analytic: SamModel;
  let demo: SamModel;
  beforeAll(async () => {
    [analytic, demo] = await Promise.all([loadModel("models/analytic"), loadModel("models/demo")]);
  });
  afterAll(async () => {
    await Promise.all([analytic?.dispose(), demo?.dispose()]);
  });

  it("analytic model: the same records as one session (odd batch sizes split unevenly)", async () => {
    const [single, pooled] = await both(analytic, { pointsPerSide: 7, pointsPerBatch: 5, stabilityScoreThresh: 0 }, 128);
    expect(single.length).toBeGreaterThan(10);
    expect(pooled).toEqual(single);
  });

  it("demo model: the same records, bit for bit", async () => {
    const [single, pooled] = await both(demo, { pointsPerSide: 8, predIouThresh: 0.5, stabilityScoreThresh: 0.8 }, 256);
    expect(single.length).toBeGreaterThan(0);
    expect(pooled).toEqual(single);
  }, 120_000);

  it("stops between batches when asked", async () => {
    const image = generatePhantomSlice({ seed: 1, modality: "ct", width: 64, height: 64, depth: 4, slice: 2 });
    const embedding = await analytic.embed(image, { cache: false });
    const g = new AutomaticMaskGenerator(analytic, { pointsPerSide: 16, pointsPerBatch: 4, decoderWorkers: 2 });
    const controller = new AbortController();
    try {
      const run = g.generate(embedding, { signal: controller.signal, onProgress: (done) => done >= 8 && controller.abort() });
      await expect(run).rejects.toThrow();
      expect(controller.signal.aborted).toBe(true);
    } finally {
      await g.dispose();
    }
  });
});
