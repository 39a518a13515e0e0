/**
 * An onnxruntime session on a device, used by both SAM sessions (the encoder in its process,
 * the decoder on the kernel's thread).
 *
 * Before the model is loaded on a GPU provider, a one-node probe model is loaded and run on it:
 * a failure there is the device's (and becomes a DeviceUnavailableError that says what to
 * install), a failure after it is the model's. The probe costs milliseconds; loading a ViT-B
 * encoder only to find that the device is missing would cost seconds and hide the cause.
 */
import * as ort from "onnxruntime-node";
import { AUTO_ORDER, executionProviders, type Device, type SessionDevice } from "./device.js";
import { autoSkipReason, deviceProblem, DeviceUnavailableError, onnxruntimeCause, readGpuFacts } from "./device-diagnosis.js";

export interface DeviceSession {
  readonly session: ort.InferenceSession;
  readonly device: SessionDevice;
  /** For `auto`: the one line saying which device runs and why the others do not. */
  readonly notice?: string;
}

type GpuDevice = Exclude<SessionDevice, "cpu">;

let probeBytes: Uint8Array | undefined;

/**
 * y = x * W, 1x4 by 4x4: one MatMul, which every GPU provider runs on the device. The graph
 * builder (protobufjs) is imported only here: CPU sessions never need it.
 */
async function probeModel(): Promise<Uint8Array> {
  if (probeBytes) return probeBytes;
  const { GraphBuilder } = await import("../onnx/graph.js");
  const g = new GraphBuilder("device_probe");
  const x = g.input("x", "float32", [1, 4]);
  const w = g.initializer("w", Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)), [4, 4]);
  g.output(g.op("MatMul", [x, w], {}, "y"), "float32", [1, 4]);
  probeBytes = g.toBytes({ producerName: "medicosam device probe" });
  return probeBytes;
}

/** One probe per device and process: undefined when the device runs, else onnxruntime's message. */
const probes = new Map<GpuDevice, Promise<string | undefined>>();

export function probeDevice(device: GpuDevice): Promise<string | undefined> {
  let probe = probes.get(device);
  if (!probe) {
    probe = (async () => {
      try {
        const session = await ort.InferenceSession.create(await probeModel(), { executionProviders: executionProviders(device), logSeverityLevel: 3 });
        try {
          const x = Float32Array.of(1, 2, 3, 4);
          const out = await session.run({ x: new ort.Tensor("float32", x, [1, 4]) });
          const y = out["y"]!.data as Float32Array;
          if (y.join() !== x.join()) return `the probe model computed [${y.join(", ")}] instead of [${x.join(", ")}]`;
          return undefined;
        } finally {
          await session.release();
        }
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    })();
    probes.set(device, probe);
  }
  return probe;
}

async function createOn(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions, device: SessionDevice): Promise<ort.InferenceSession> {
  // GPU sessions log a warning for every node left to the CPU (shape arithmetic); errors still show.
  const quiet = device === "cpu" ? {} : { logSeverityLevel: 3 as const };
  const full = { ...quiet, ...options, executionProviders: executionProviders(device) };
  return typeof model === "string" ? ort.InferenceSession.create(model, full) : ort.InferenceSession.create(model, full);
}

/** `options.executionProviders` is replaced by the device's. */
export async function createDeviceSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  device: Device,
): Promise<DeviceSession> {
  if (device === "cpu") return { session: await createOn(model, options, "cpu"), device };
  if (device !== "auto") {
    const failure = await probeDevice(device);
    if (failure !== undefined) throw new DeviceUnavailableError(device, deviceProblem(device, readGpuFacts()), onnxruntimeCause(failure));
    try {
      return { session: await createOn(model, options, device), device };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message} (device '${device}' started, but this model did not load on it)`, { cause: err });
    }
  }
  const facts = readGpuFacts();
  const why: string[] = [];
  for (const candidate of AUTO_ORDER) {
    const gpu = candidate as GpuDevice;
    const skip = autoSkipReason(gpu, facts);
    if (skip !== undefined) {
      why.push(`${gpu}: ${skip}`);
      continue;
    }
    const failure = await probeDevice(gpu);
    if (failure !== undefined) {
      why.push(`${gpu}: ${onnxruntimeCause(failure)}`);
      continue;
    }
    try {
      const session = await createOn(model, options, gpu);
      return { session, device: gpu, notice: `device auto: ${gpu}${why.length ? ` (${why.join("; ")})` : ""}` };
    } catch (err) {
      why.push(`${gpu}: the model did not load on it: ${onnxruntimeCause(err instanceof Error ? err.message : String(err))}`);
    }
  }
  return { session: await createOn(model, options, "cpu"), device: "cpu", notice: `device auto: cpu (${why.join("; ")})` };
}
