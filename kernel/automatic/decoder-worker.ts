/**
 * One worker of the decoder pool (decoder-pool.ts): its own decoder session with one
 * intra-op thread, decoding the points it is sent against the embedding it was last sent.
 * onnxruntime-node's `session.run` occupies the calling thread, so sessions on the main thread
 * never overlap; one per worker thread do.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Embedding } from "../sam/embedding.js";
import { PointDecoder, type PointDecoding } from "./point-decoder.js";
import type { ToDecoderWorker } from "./decoder-pool.js";

const port = parentPort;
if (!port) throw new Error("decoder-worker.ts runs in a worker thread started by decoder-pool.ts.");
const { decoderPath } = workerData as { decoderPath: string };
const decoder = await PointDecoder.load(decoderPath, false, { intraOpNumThreads: 1 });
let embedding: Embedding | undefined;
let embeddingKey = "";

port.on("message", (m: ToDecoderWorker) => {
  void (async () => {
    try {
      if (m.embedding) {
        embedding = m.embedding as Embedding;
        embeddingKey = m.key;
      }
      if (!embedding || embeddingKey !== m.key) throw new Error(`the pool sent points for embedding ${m.key} before the embedding`);
      const out: PointDecoding[] = [];
      for (const p of m.points) out.push(await decoder.decode(embedding, p));
      port.postMessage({ id: m.id, results: out }, out.flatMap((r) => [r.ious.buffer as ArrayBuffer, r.lowRes.buffer as ArrayBuffer]));
    } catch (err) {
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
port.postMessage({ ready: true });
