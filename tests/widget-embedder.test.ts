/**
 * The canvas's slice embedder: one encoder run at a time, the slice a user clicks on ahead of
 * the background prefetch, nearest neighbours first, no second run for a slice it has.
 * The encoder here is a stub whose runs finish when the test says so (scheduling is the
 * subject; the real encoder path runs in widget-model.test.ts).
 */
import { describe, expect, it } from "vitest";
import type { Image2D } from "../kernel/io/image.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { SliceEmbedder } from "../widgets/segment-canvas/kernel/embedder.js";

class StubEncoder {
  readonly started: number[] = [];
  private finishers: ((fail?: Error) => void)[] = [];
  running = 0;
  maxRunning = 0;

  embed(image: Image2D): Promise<Embedding> {
    const z = image.data[0]!;
    this.started.push(z);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve, reject) => {
      this.finishers.push((fail) => {
        this.running--;
        if (fail) reject(fail);
        else resolve({ data: new Float32Array(1), originalSize: { width: 1, height: 1 }, resizedSize: { width: 1, height: 1 }, modelName: "stub", key: `z${z}` });
      });
    });
  }

  /** Finishes the oldest run, then lets the scheduler start the next one. */
  async finish(fail?: Error): Promise<void> {
    this.finishers.shift()!(fail);
    await new Promise((r) => setTimeout(r, 0));
  }
}

const sliceImage = (z: number): Image2D => ({ width: 1, height: 1, channels: 1, data: Uint8Array.of(z) });

describe("SliceEmbedder", () => {
  it("prefetches the neighbours nearest first, one run at a time", async () => {
    const enc = new StubEncoder();
    const e = new SliceEmbedder(enc, sliceImage, 10, undefined);
    e.prefetch(5, 2);
    for (let i = 0; i < 5; i++) await enc.finish();
    expect(enc.started).toEqual([5, 6, 4, 7, 3]);
    expect(enc.maxRunning).toBe(1);
    await e.idle();
  });

  it("lets a requested slice jump the queue, and never embeds a slice twice", async () => {
    const enc = new StubEncoder();
    const e = new SliceEmbedder(enc, sliceImage, 10, undefined);
    e.prefetch(2, 2); // 2 starts at once; 3, 1, 4, 0 wait
    const wanted = e.get(8);
    await enc.finish(); // 2 done -> 8 next, ahead of the prefetch
    expect(enc.started).toEqual([2, 8]);
    await enc.finish();
    expect((await wanted).key).toBe("z8");
    expect(e.has(8)).toBe(true);
    const again = await e.get(8);
    expect(again.key).toBe("z8");
    const twice = [e.get(3), e.get(3)];
    while (enc.running > 0) await enc.finish();
    await Promise.all(twice);
    expect(enc.started.filter((z) => z === 3)).toHaveLength(1);
    await e.idle();
  });

  it("a new slice replaces the background queue; a failure rejects only its own waiters", async () => {
    const enc = new StubEncoder();
    const e = new SliceEmbedder(enc, sliceImage, 20, undefined);
    e.prefetch(2, 1); // 2 runs; 3, 1 queued
    e.prefetch(15, 1); // queue becomes 15, 16, 14
    const failing = e.get(9).then(
      () => "resolved",
      (err: Error) => err.message,
    );
    await enc.finish(); // 2 done -> 9
    await enc.finish(new Error("encoder crashed"));
    expect(await failing).toBe("encoder crashed");
    while (enc.running > 0) await enc.finish();
    expect(enc.started).toEqual([2, 9, 15, 16, 14]);
    expect(e.has(9)).toBe(false);
    await e.idle();
  });
});
