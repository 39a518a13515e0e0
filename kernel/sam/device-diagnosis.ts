/**
 * Why a GPU device cannot start, and what to install. onnxruntime's own messages name the
 * symptom, not the cause ("Failed to get a WebGPU adapter: No supported adapters" whether the
 * Vulkan loader, the driver or the GPU is missing; "Failed to load shared library" for CUDA), so
 * the cause is read off the machine: the Vulkan loader and drivers, the GPU device nodes, and
 * the provider libraries in onnxruntime-node's folder.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { SessionDevice } from "./device.js";

/** What the diagnosis looks at; a plain record so that tests can describe other machines. */
export interface GpuFacts {
  readonly platform: NodeJS.Platform;
  /** GPU device nodes present: /dev/nvidia0, /dev/dri/renderD128, /dev/dxg (WSL). */
  readonly gpuDeviceNodes: readonly string[];
  /** Path of the Vulkan loader (libvulkan.so.1), if found. */
  readonly vulkanLoader: string | undefined;
  /** Vulkan driver manifests (ICD .json files) the loader would read. */
  readonly vulkanDrivers: readonly string[];
  /** onnxruntime-node's native folder (where the CUDA provider libraries must be). */
  readonly ortBinDir: string;
  /** libonnxruntime_providers_cuda.so is in ortBinDir. */
  readonly cudaProvider: boolean;
}

const LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/lib64", "/usr/local/lib"];
const ICD_DIRS = ["/etc/vulkan/icd.d", "/usr/share/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
export const CUDA_PROVIDER_LIB = "libonnxruntime_providers_cuda.so";

function listDir(dir: string, keep: (name: string) => boolean): string[] {
  try {
    return readdirSync(dir)
      .filter(keep)
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** onnxruntime-node's folder of native libraries for this platform. */
export function onnxruntimeBinDir(): string {
  const entry = createRequire(import.meta.url).resolve("onnxruntime-node");
  return join(dirname(entry), "..", "bin", "napi-v6", process.platform, process.arch);
}

export function readGpuFacts(env: NodeJS.ProcessEnv = process.env): GpuFacts {
  const ldPath = (env["LD_LIBRARY_PATH"] ?? "").split(":").filter(Boolean);
  const vulkanLoader = [...ldPath, ...LIB_DIRS].map((d) => join(d, "libvulkan.so.1")).find((p) => existsSync(p));
  // The loader reads only these files when either variable is set.
  const explicit = (env["VK_DRIVER_FILES"] ?? env["VK_ICD_FILENAMES"] ?? "").split(":").filter(Boolean);
  const vulkanDrivers = explicit.length > 0 ? explicit.filter((p) => existsSync(p)) : ICD_DIRS.flatMap((d) => listDir(d, (n) => n.endsWith(".json")));
  const gpuDeviceNodes = [
    ...listDir("/dev", (n) => /^nvidia\d+$/.test(n) || n === "dxg"),
    ...listDir("/dev/dri", (n) => n.startsWith("renderD")),
  ];
  const ortBinDir = onnxruntimeBinDir();
  return {
    platform: process.platform,
    gpuDeviceNodes,
    vulkanLoader,
    vulkanDrivers,
    ortBinDir,
    cudaProvider: existsSync(join(ortBinDir, CUDA_PROVIDER_LIB)),
  };
}

/**
 * onnxruntime's message without its source location: "/onnxruntime_src/...cc:136 <function>
 * <condition> was false. Failed to get a WebGPU adapter: ..." -> "Failed to get a WebGPU adapter: ...".
 */
export function onnxruntimeCause(message: string): string {
  const line = message.trim();
  const afterCheck = /\bwas false\.\s*([\s\S]+)$/.exec(line);
  const text = afterCheck ? afterCheck[1]! : line.replace(/^\/onnxruntime_src\/\S+\s+/, "");
  return text.split("\n")[0]!.trim();
}

export interface DeviceProblem {
  /** Why it cannot start, in the machine's terms. */
  readonly cause: string;
  /** What to install or change. */
  readonly fix: string;
}

const VULKAN_DRIVER_FIX =
  "install the GPU's Vulkan driver (NVIDIA: the proprietary driver, which brings its Vulkan ICD; AMD and Intel: mesa-vulkan-drivers) and the Vulkan loader (libvulkan1)";
/** Measured here: Dawn refused Mesa 22.3's lavapipe and ran on Mesa 25.0's (docs/performance.md "Devices"). */
const LAVAPIPE_NOTE =
  "without a GPU, Mesa's software driver lavapipe (mesa-vulkan-drivers >= 25, on Debian 12 from bookworm-backports) runs WebGPU on the CPU, much slower than device 'cpu'";

function webgpuProblem(f: GpuFacts): DeviceProblem {
  if (f.platform !== "linux") {
    return { cause: "no WebGPU adapter", fix: "update the GPU driver (WebGPU needs D3D12 on Windows, Metal on macOS)" };
  }
  if (!f.vulkanLoader) {
    return { cause: "the Vulkan loader libvulkan.so.1 is not installed (onnxruntime's WebGPU runs on Vulkan on Linux)", fix: `${VULKAN_DRIVER_FIX}; ${LAVAPIPE_NOTE}` };
  }
  if (f.vulkanDrivers.length === 0) {
    return { cause: "no Vulkan driver is installed (no ICD file in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d, or none of VK_ICD_FILENAMES exists)", fix: `${VULKAN_DRIVER_FIX}; ${LAVAPIPE_NOTE}` };
  }
  if (f.gpuDeviceNodes.length === 0) {
    return {
      cause: `no GPU is visible (no /dev/dri/renderD*, /dev/nvidia*), and the software Vulkan drivers present (${f.vulkanDrivers.map((p) => p.split("/").pop()).join(", ")}) offer no adapter WebGPU accepts (Mesa 22's lavapipe lacks features Dawn requires)`,
      fix: `on a GPU machine ${VULKAN_DRIVER_FIX}; in a container pass the GPU through (--device /dev/dri, or --gpus all with the NVIDIA container toolkit's graphics capability); ${LAVAPIPE_NOTE}`,
    };
  }
  return {
    cause: `Vulkan found no adapter WebGPU accepts on this machine's GPU (${f.gpuDeviceNodes.join(", ")})`,
    fix: "check that `vulkaninfo --summary` (package vulkan-tools) lists the GPU; update its driver (WebGPU needs Vulkan 1.1 with the features Dawn requires)",
  };
}

function cudaProblem(f: GpuFacts): DeviceProblem {
  if (f.platform !== "linux" && f.platform !== "win32") {
    return { cause: "onnxruntime-node has no CUDA provider on this platform", fix: "use device 'webgpu' or 'cpu'" };
  }
  if (!f.cudaProvider) {
    return {
      cause: `onnxruntime-node's CUDA provider is not installed (no ${CUDA_PROVIDER_LIB} in ${f.ortBinDir}: the npm package ships the CPU build, and this project's .npmrc skips the download)`,
      fix:
        "download it once with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` (from NuGet), " +
        "on a machine with an NVIDIA GPU and driver, CUDA 12 and cuDNN 9",
    };
  }
  return {
    cause: "the CUDA provider is installed but could not start: an NVIDIA GPU and driver, the CUDA 12 runtime and cuDNN 9 must be present",
    fix: `install what \`ldd ${join(f.ortBinDir, CUDA_PROVIDER_LIB)} | grep 'not found'\` lists (CUDA 12 and cuDNN 9 libraries, on LD_LIBRARY_PATH), and check \`nvidia-smi\` sees the GPU`,
  };
}

export function deviceProblem(device: Exclude<SessionDevice, "cpu">, facts: GpuFacts): DeviceProblem {
  return device === "webgpu" ? webgpuProblem(facts) : cudaProblem(facts);
}

/**
 * Why `auto` does not even try a provider, or undefined when it is worth trying. Skipping saves
 * onnxruntime's error logs for providers that cannot work, and keeps `auto` off a software
 * Vulkan driver, where WebGPU is much slower than the CPU provider.
 */
export function autoSkipReason(device: Exclude<SessionDevice, "cpu">, facts: GpuFacts): string | undefined {
  if (device === "cuda") {
    if (facts.platform !== "linux" && facts.platform !== "win32") return "no CUDA provider on this platform";
    if (!facts.cudaProvider) return "onnxruntime-node's CUDA provider is not installed";
    if (facts.platform === "linux" && !facts.gpuDeviceNodes.some((n) => n.includes("nvidia") || n.endsWith("dxg"))) return "no NVIDIA GPU (/dev/nvidia*)";
    return undefined;
  }
  if (facts.platform !== "linux") return undefined;
  if (!facts.vulkanLoader) return "no Vulkan loader (libvulkan.so.1)";
  if (facts.vulkanDrivers.length === 0) return "no Vulkan driver";
  if (facts.gpuDeviceNodes.length === 0) return "no GPU (only a software Vulkan driver could serve it, slower than the CPU)";
  return undefined;
}

/** A device the caller asked for that cannot start: says which, why, and what to install. */
export class DeviceUnavailableError extends Error {
  override name = "DeviceUnavailableError";
  constructor(
    readonly device: SessionDevice,
    readonly problem: DeviceProblem,
    /** onnxruntime's own message, shortened (onnxruntimeCause). */
    readonly onnxruntimeMessage: string,
  ) {
    super(
      `device '${device}' cannot start: ${problem.cause}. onnxruntime said: "${onnxruntimeMessage}". ` +
        `To use it: ${problem.fix}. Otherwise load the model with device 'cpu', or 'auto' to fall back to the CPU.`,
    );
  }
}
