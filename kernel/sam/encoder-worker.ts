/**
 * The encoder's thread. onnxruntime-node's session.run blocks its event loop for seconds
 * (shared/spec/performance.md), so it runs here and the kernel keeps answering comm and
 * interrupt messages meanwhile. Preprocessing runs here too, for the same reason.
 */
import { parentPort } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { checkEncoder } from "./onnx-contract.js";
import { preprocess } from "./preprocess.js";
import type { FromWorker, ToWorker } from "./encoder-protocol.js";

if (!parentPort) throw new Error("encoder-worker.ts must run in a worker thread.");
const port = parentPort;

let session: ort.InferenceSession | undefined;
let io: { input: string; output: string } | undefined;
/** One 12 MiB input buffer for the worker's life: volumes embed hundreds of slices. */
let inputBuffer: Float32Array | undefined;

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

port.on("message", (msg: ToWorker) => {
  void handle(msg);
});

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === "load") {
    try {
      session = await ort.InferenceSession.create(msg.path, msg.sessionOptions as ort.InferenceSession.SessionOptions);
      io = checkEncoder(msg.path, session.inputMetadata, session.outputMetadata);
      post({ type: "loaded", ...io });
    } catch (err) {
      post({ type: "load-error", message: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  const { id } = msg;
  try {
    if (!session || !io) throw new Error("encoder not loaded");
    const t0 = performance.now();
    const side = msg.settings.imageSize;
    if (inputBuffer?.length !== 3 * side * side) inputBuffer = new Float32Array(3 * side * side);
    const pre = preprocess(
      { width: msg.width, height: msg.height, data: msg.rgb },
      { imageSize: side, pixelMean: msg.settings.pixelMean, pixelStd: msg.settings.pixelStd, out: inputBuffer },
    );
    const t1 = performance.now();
    const s = msg.settings.imageSize;
    const out = await session.run({ [io.input]: new ort.Tensor("float32", pre.tensor, [1, 3, s, s]) });
    const t2 = performance.now();
    const result = out[io.output]!;
    if (result.dims.join() !== "1,256,64,64") {
      throw new Error(`encoder output '${io.output}' has shape [${result.dims.join(",")}]; expected [1,256,64,64].`);
    }
    // A tight copy: the tensor's buffer may be larger than its data or owned by onnxruntime.
    const data = new Float32Array(result.data as Float32Array);
    post(
      { type: "embedded", id, data, resizedSize: pre.resizedSize, preprocessMs: t1 - t0, encoderMs: t2 - t1 },
      [data.buffer as ArrayBuffer],
    );
  } catch (err) {
    post({ type: "embed-error", id, message: err instanceof Error ? err.message : String(err) });
  }
}
