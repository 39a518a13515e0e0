/**
 * The encoder's process. onnxruntime-node's session.run blocks its event loop for seconds
 * (docs/performance.md), so it runs here and the kernel keeps answering comm and
 * interrupt messages meanwhile. Preprocessing runs here too, for the same reason.
 *
 * A child process and not a worker thread: the only way to stop a running session.run is to
 * end its thread, and Worker.terminate() during a run aborted the WHOLE process 1 time in 6
 * ("terminate called after throwing an instance of 'Napi::Error'": the addon throws into an
 * environment that is shutting down). Killing a process is always safe.
 */
import * as ort from "onnxruntime-node";
import { checkEncoder } from "./onnx-contract.js";
import { DeviceUnavailableError } from "./device-diagnosis.js";
import { createDeviceSession } from "./device-session.js";
import { preprocess, preprocessResized } from "./preprocess.js";
import type { FromEncoder, ToEncoder } from "./encoder-protocol.js";

if (!process.send) throw new Error("encoder-process.ts must be started by kernel/sam/encoder.ts (child_process.fork).");
const send = process.send.bind(process);

// Jupyter interrupts the kernel's whole process group with SIGINT; the kernel decides what
// stops (kernel/sam/encoder.ts kills this process when a run is cancelled), so ignore it here.
process.on("SIGINT", () => {});
// The kernel is gone (or dropped us): nothing is waiting for our answers.
process.on("disconnect", () => process.exit(0));

let session: ort.InferenceSession | undefined;
let io: { input: string; output: string } | undefined;
/** One 12 MiB input buffer for the process's life: volumes embed hundreds of slices. */
let inputBuffer: Float32Array | undefined;

function post(msg: FromEncoder): void {
  send(msg);
}

process.on("message", (msg: ToEncoder) => {
  void handle(msg);
});

async function handle(msg: ToEncoder): Promise<void> {
  if (msg.type === "load") {
    try {
      const created = await createDeviceSession(msg.path, msg.sessionOptions as ort.InferenceSession.SessionOptions, msg.device);
      session = created.session;
      io = checkEncoder(msg.path, session.inputMetadata, session.outputMetadata);
      post({ type: "loaded", ...io, device: created.device, ...(created.notice ? { notice: created.notice } : {}) });
    } catch (err) {
      const unavailable =
        err instanceof DeviceUnavailableError ? { device: err.device, problem: err.problem, onnxruntimeMessage: err.onnxruntimeMessage } : undefined;
      post({ type: "load-error", message: err instanceof Error ? err.message : String(err), ...(unavailable ? { unavailable } : {}) });
    }
    return;
  }
  const { id } = msg;
  try {
    if (!session || !io) throw new Error("encoder not loaded");
    // Sent before the blocking work below: the kernel may now use its thread for the next slice.
    post({ type: "started", id });
    const t0 = performance.now();
    const side = msg.settings.imageSize;
    if (inputBuffer?.length !== 3 * side * side) inputBuffer = new Float32Array(3 * side * side);
    const image = { width: msg.width, height: msg.height, data: msg.rgb };
    const options = { imageSize: side, pixelMean: msg.settings.pixelMean, pixelStd: msg.settings.pixelStd, out: inputBuffer };
    const pre = msg.originalSize ? preprocessResized(image, msg.originalSize, options) : preprocess(image, options);
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
    post({ type: "embedded", id, data, resizedSize: pre.resizedSize, preprocessMs: t1 - t0, encoderMs: t2 - t1 });
  } catch (err) {
    post({ type: "embed-error", id, message: err instanceof Error ? err.message : String(err) });
  }
}
