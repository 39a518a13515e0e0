/**
 * Where a SAM session runs: onnxruntime's CPU provider, its WebGPU provider (compiled into
 * onnxruntime-node's Linux, Windows and macOS builds; on Linux it runs on Vulkan), or its CUDA
 * provider (Linux x64, only when onnxruntime-node was installed with it). `auto` takes the first
 * GPU provider that starts and otherwise the CPU (device-session.ts).
 */
import type { InferenceSession } from "onnxruntime-node";

export const DEVICES = ["cpu", "webgpu", "cuda", "auto"] as const;
export type Device = (typeof DEVICES)[number];
/** A device a session actually runs on (`auto` resolved). */
export type SessionDevice = Exclude<Device, "auto">;

/** The environment variable that sets the default device (the kernel's, the CLI's, workers'). */
export const DEVICE_ENV = "MEDICOSAM_DEVICE";

/** GPU providers in the order `auto` tries them: CUDA is the faster one where both exist. */
export const AUTO_ORDER: readonly SessionDevice[] = ["cuda", "webgpu"];

export function isDevice(text: string): text is Device {
  return (DEVICES as readonly string[]).includes(text);
}

/** `text` as a device; `what` names where it came from in the error ("--device", "MEDICOSAM_DEVICE"). */
export function parseDevice(text: string, what: string): Device {
  const value = text.trim().toLowerCase();
  if (isDevice(value)) return value;
  throw new Error(`${what} must be one of ${DEVICES.join(", ")}, not '${text}'.`);
}

/** The device when the caller names none: $MEDICOSAM_DEVICE, else cpu. */
export function defaultDevice(env: NodeJS.ProcessEnv = process.env): Device {
  const value = env[DEVICE_ENV];
  if (value === undefined || value.trim() === "") return "cpu";
  return parseDevice(value, `the environment variable ${DEVICE_ENV}`);
}

/**
 * The execution providers of a session on `device`. Nodes a GPU provider cannot run fall back
 * to the CPU provider inside the same session (onnxruntime appends it implicitly).
 */
export function executionProviders(device: SessionDevice): InferenceSession.ExecutionProviderConfig[] {
  return [device];
}
