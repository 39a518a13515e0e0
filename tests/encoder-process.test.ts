/**
 * The encoder runs in a child process: while it works, the main event loop stays live (a
 * kernel must keep answering comm and interrupt messages), and cancel() stops it.
 * Uses a deliberately slow encoder with the SAM contract, built here with the graph builder.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../kernel/onnx/graph.js";
import { loadModel } from "../kernel/sam/model.js";
import { EncoderCancelledError } from "../kernel/sam/encoder.js";

/** [1,3,1024,1024] -> repeated 3072x1024 @ 1024x1024 products -> 16x16 patch conv -> [1,256,64,64]. */
function slowEncoder(repeats: number): Uint8Array {
  const g = new GraphBuilder("slow-encoder");
  const x = g.input("image", "float32", [1, 3, 1024, 1024]);
  const w = new Float32Array(1024 * 1024);
  for (let i = 0; i < 1024; i++) w[i * 1024 + i] = 1; // identity keeps values finite
  const weight = g.initializer("w", w, [1024, 1024]);
  let h = g.op("Reshape", [x, g.constInt64([3072, 1024])]);
  for (let i = 0; i < repeats; i++) h = g.op("MatMul", [h, weight]);
  h = g.op("Reshape", [h, g.constInt64([1, 3, 1024, 1024])]);
  const patch = g.initializer("patch", new Float32Array(256 * 3 * 16 * 16).fill(1 / 768), [256, 3, 16, 16]);
  const out = g.op("Conv", [h, patch], { strides: [16, 16], kernel_shape: [16, 16] }, "embeddings");
  g.output(out, "float32", [1, 256, 64, 64]);
  return g.toBytes();
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "medicosam-slow-"));
  writeFileSync(join(dir, "encoder.onnx"), slowEncoder(20));
  copyFileSync("models/analytic/decoder.onnx", join(dir, "decoder.onnx"));
  writeFileSync(
    join(dir, "model.json"),
    JSON.stringify({ name: "slow-test", source: "tests/encoder-process.test.ts", encoder: { file: "encoder.onnx" }, decoder: { file: "decoder.onnx" } }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image = { width: 64, height: 48, channels: 1, data: new Uint8Array(64 * 48).map((_, i) => i % 251) };

describe("encoder process", () => {
  it("keeps the main event loop responsive while the encoder runs", async () => {
    const model = await loadModel(dir);
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const t0 = performance.now();
      const e = await model.embed(image);
      const elapsed = performance.now() - t0;
      clearInterval(timer);
      expect(e.data.length).toBe(256 * 64 * 64);
      expect(elapsed).toBeGreaterThan(200); // the encoder is slow enough for the check to mean something
      // On a blocked loop no timer fires until the run ends; here they keep firing.
      expect(ticks).toBeGreaterThan(elapsed / 10 / 4);
    } finally {
      await model.dispose();
    }
  });

  it("cancel() interrupts a running encoder and the next embed() works", async () => {
    const model = await loadModel(dir);
    try {
      const running = model.embed(image);
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      await model.cancel();
      await expect(running).rejects.toBeInstanceOf(EncoderCancelledError);
      expect(performance.now() - t0).toBeLessThan(2000);
      const e = await model.embed({ ...image, data: image.data.map((v) => 255 - v) });
      expect(e.data.length).toBe(256 * 64 * 64);
    } finally {
      await model.dispose();
    }
  });

  it("an aborted signal (a kernel interrupt) cancels the encoder run", async () => {
    const model = await loadModel(dir);
    try {
      const controller = new AbortController();
      const running = model.embed({ ...image, data: image.data.map((v) => v ^ 1) }, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await expect(running).rejects.toBeInstanceOf(EncoderCancelledError);
      await expect(model.embed(image, { signal: controller.signal })).rejects.toThrow(/abort/i);
    } finally {
      await model.dispose();
    }
  });

  it("survives cancels at any moment of a run (a worker thread aborted the whole process here)", async () => {
    const model = await loadModel(dir);
    try {
      for (let i = 0; i < 12; i++) {
        const running = model.embed({ ...image, data: image.data.map((v) => (v + i + 7) % 256) }, { cache: false });
        await new Promise((r) => setTimeout(r, (i * 37) % 150));
        await model.cancel();
        await expect(running).rejects.toBeInstanceOf(EncoderCancelledError);
      }
      const e = await model.embed(image, { cache: false });
      expect(e.data.length).toBe(256 * 64 * 64);
    } finally {
      await model.dispose();
    }
  });

  it("ignores the SIGINT that Jupyter sends to the kernel's process group; the kernel decides", async () => {
    const model = await loadModel(dir);
    try {
      const pid = model.encoderProcessId;
      expect(pid).toBeTypeOf("number");
      const running = model.embed({ ...image, data: image.data.map((v) => v ^ 3) }, { cache: false });
      process.kill(pid!, "SIGINT");
      const e = await running;
      expect(e.data.length).toBe(256 * 64 * 64);
      expect(model.encoderProcessId).toBe(pid);
    } finally {
      await model.dispose();
    }
  });

  it("dispose() leaves no encoder process behind", async () => {
    const model = await loadModel(dir);
    const pid = model.encoderProcessId!;
    void model.embed(image, { cache: false }).catch(() => undefined);
    await model.dispose();
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it("an encoder process killed from outside (the OOM killer) fails the run with a hint, and the next embed() works", async () => {
    const model = await loadModel(dir);
    try {
      const running = model.embed({ ...image, data: image.data.map((v) => v ^ 5) }, { cache: false });
      await new Promise((r) => setTimeout(r, 50));
      process.kill(model.encoderProcessId!, "SIGKILL");
      await expect(running).rejects.toThrow(/exited unexpectedly \(signal SIGKILL\).*out of memory.*next embed\(\) starts a new one/);
      const e = await model.embed(image, { cache: false });
      expect(e.data.length).toBe(256 * 64 * 64);
    } finally {
      await model.dispose();
    }
  });
});
