/**
 * The device option (kernel/sam/device*.ts) on this machine, through loadModel and the real CLI:
 * devices that cannot start fail with the cause and the fix, `auto` falls back to the CPU and
 * says why, MEDICOSAM_DEVICE and --device reach the sessions, and where WebGPU has an adapter
 * (a GPU, or Mesa's software driver lavapipe: .ci/apt-packages.txt) its embeddings and masks
 * agree with the CPU's on the demo model.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractObjects } from "../kernel/analysis/objects.js";
import { writePhantomCohort } from "../kernel/cohort/phantom-cohort.js";
import { cohortEmbed } from "../kernel/cohort/run.js";
import { dice, iou } from "../kernel/analysis/metrics.js";
import { generatePhantomSlice } from "../kernel/phantom/index.js";
import { defaultDevice, DEVICE_ENV } from "../kernel/sam/device.js";
import { autoSkipReason, deviceProblem, DeviceUnavailableError, readGpuFacts, type GpuFacts } from "../kernel/sam/device-diagnosis.js";
import { probeDevice } from "../kernel/sam/device-session.js";
import { loadModel, type LoadOptions, type SamModel } from "../kernel/sam/model.js";
import type { Prompt } from "../kernel/sam/prompt.js";
import { canRun } from "./helpers/require.js";

const DEMO = "models/demo";
const CLI = "bin/medicosam.js";
const facts = readGpuFacts();
let out: string;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "medicosam-device-"));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** loadModel with `env` set for the duration of the load (the encoder process inherits it at fork). */
async function loadWithEnv(env: Record<string, string>, options: LoadOptions): Promise<SamModel> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await loadModel(DEMO, options);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function loadError(promise: Promise<SamModel>): Promise<Error> {
  try {
    const model = await promise;
    await model.dispose();
  } catch (err) {
    return err as Error;
  }
  throw new Error("the model loaded; expected the device to fail");
}

function medicosam(args: string[], env: Record<string, string | undefined> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, env: { ...process.env, [DEVICE_ENV]: undefined, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("choosing the device", () => {
  it("reads MEDICOSAM_DEVICE, defaults to cpu and names the variable when its value is wrong", () => {
    expect(defaultDevice({})).toBe("cpu");
    expect(defaultDevice({ [DEVICE_ENV]: "WebGPU" })).toBe("webgpu");
    expect(() => defaultDevice({ [DEVICE_ENV]: "gpu" })).toThrow(/MEDICOSAM_DEVICE must be one of cpu, webgpu, cuda, auto, not 'gpu'/);
  });

  it("explains each missing piece of a WebGPU or CUDA setup with its fix", () => {
    const gpuMachine: GpuFacts = {
      platform: "linux",
      gpuDeviceNodes: ["/dev/nvidia0"],
      vulkanLoader: "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
      vulkanDrivers: ["/usr/share/vulkan/icd.d/nvidia_icd.json"],
      ortBinDir: "/ort/bin",
      cudaProvider: true,
    };
    const noLoader = deviceProblem("webgpu", { ...gpuMachine, vulkanLoader: undefined });
    expect(noLoader.cause).toMatch(/libvulkan\.so\.1 is not installed/);
    expect(noLoader.fix).toMatch(/libvulkan1/);
    expect(deviceProblem("webgpu", { ...gpuMachine, vulkanDrivers: [] }).cause).toMatch(/no Vulkan driver/);
    const noGpu = deviceProblem("webgpu", { ...gpuMachine, gpuDeviceNodes: [], vulkanDrivers: ["/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"] });
    expect(noGpu.cause).toMatch(/no GPU is visible.*lvp_icd\.x86_64\.json/);
    expect(noGpu.fix).toMatch(/bookworm-backports/);
    expect(deviceProblem("webgpu", gpuMachine).cause).toMatch(/\/dev\/nvidia0/);
    const noProvider = deviceProblem("cuda", { ...gpuMachine, cudaProvider: false });
    expect(noProvider.cause).toMatch(/libonnxruntime_providers_cuda\.so in \/ort\/bin/);
    expect(noProvider.fix).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/);
    expect(deviceProblem("cuda", gpuMachine).fix).toMatch(/ldd \/ort\/bin\/libonnxruntime_providers_cuda\.so/);
    // auto tries only what can work, and never a software Vulkan driver.
    expect(autoSkipReason("cuda", { ...gpuMachine, cudaProvider: false })).toMatch(/not installed/);
    expect(autoSkipReason("cuda", gpuMachine)).toBeUndefined();
    expect(autoSkipReason("webgpu", { ...gpuMachine, gpuDeviceNodes: [] })).toMatch(/no GPU/);
    expect(autoSkipReason("webgpu", gpuMachine)).toBeUndefined();
  });
});

describe("devices that cannot start", () => {
  it("cuda without its provider: the error names the device, onnxruntime's message and the install command", async (ctx) => {
    if (facts.cudaProvider) ctx.skip(); // a CUDA machine: nothing to check here
    const err = await loadError(loadModel(DEMO, { device: "cuda" }));
    expect(err).toBeInstanceOf(DeviceUnavailableError);
    expect((err as DeviceUnavailableError).device).toBe("cuda");
    expect(err.message).toMatch(/^device 'cuda' cannot start: onnxruntime-node's CUDA provider is not installed/);
    expect(err.message).toMatch(/onnxruntime said: "OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library"/);
    expect(err.message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(err.message).toMatch(/device 'cpu', or 'auto'/);
  });

  it("webgpu without a Vulkan driver: the error says so and what to install", async () => {
    // The encoder process inherits the environment: its Vulkan loader then finds no driver.
    const err = await loadError(loadWithEnv({ VK_ICD_FILENAMES: join(out, "no-such-driver.json") }, { device: "webgpu" }));
    expect(err).toBeInstanceOf(DeviceUnavailableError);
    expect(err.message).toMatch(/^device 'webgpu' cannot start: /);
    expect(err.message).toMatch(facts.vulkanLoader ? /no Vulkan driver is installed/ : /libvulkan\.so\.1 is not installed/);
    expect(err.message).toMatch(/onnxruntime said: "Failed to get a WebGPU adapter: No supported adapters"/);
    expect(err.message).toMatch(/mesa-vulkan-drivers/);
  });

  it("auto falls back to the CPU with one line saying which device runs and why", async () => {
    const notices: string[] = [];
    const model = await loadWithEnv({ VK_ICD_FILENAMES: join(out, "no-such-driver.json") }, { device: "auto", onNotice: (l) => notices.push(l) });
    try {
      expect(model.devices.encoder).toBe("cpu");
      expect(model.devices.decoder).toBe("cpu");
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/^demo encoder: device auto: cpu \(cuda: .+; webgpu: .+\)$/);
      expect(inspect(model)).toMatch(/encoder .*encoder\.onnx \(fp32\) on cpu — device auto: cpu/);
      // It works: the fallback is a real session.
      const e = await model.embed(generatePhantomSlice({ seed: 500202, modality: "ct", width: 96, height: 80, depth: 8, slice: 4 }));
      expect(e.data.length).toBe(256 * 64 * 64);
    } finally {
      await model.dispose();
    }
  });
});

describe("the CLI's --device and MEDICOSAM_DEVICE", () => {
  beforeAll(() => {
    if (!existsSync("dist/kernel/cli.js")) throw new Error("dist/ is missing: run `npm run build` (npm test does it).");
  });
  const embed = (dir: string, ...extra: string[]) => ["embed", "--model", DEMO, "data/phantom-slice.png", "--out", join(out, dir), ...extra];

  it("MEDICOSAM_DEVICE reaches the encoder session; --device overrides it", (ctx) => {
    if (facts.cudaProvider) ctx.skip();
    const fromEnv = medicosam(embed("env-cuda"), { [DEVICE_ENV]: "cuda" });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toMatch(/error: device 'cuda' cannot start: onnxruntime-node's CUDA provider is not installed/);
    const overridden = medicosam(embed("env-cuda-flag-cpu", "--device", "cpu"), { [DEVICE_ENV]: "cuda" });
    expect(overridden.stderr).toBe("note: demo model trained on synthetic images — not MedicoSAM\n");
    expect(overridden.code).toBe(0);
    expect(existsSync(join(out, "env-cuda-flag-cpu", "embedding.f32"))).toBe(true);
  });

  it("a wrong --device or MEDICOSAM_DEVICE is a usage error naming its source", () => {
    const flag = medicosam(embed("bad", "--device", "gpu"));
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/error: --device must be one of cpu, webgpu, cuda, auto, not 'gpu'\.\n\nusage: medicosam embed/);
    const env = medicosam(embed("bad"), { [DEVICE_ENV]: "tpu" });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/MEDICOSAM_DEVICE must be one of cpu, webgpu, cuda, auto, not 'tpu'/);
  });

  it("--device auto prints the fallback notice and embeds", () => {
    const r = medicosam(embed("auto", "--device", "auto"), { VK_ICD_FILENAMES: join(out, "no-such-driver.json") });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^demo encoder: device auto: cpu \(cuda: .+; webgpu: .+\)$/m);
    expect(existsSync(join(out, "auto", "embedding.f32"))).toBe(true);
  });
});

describe("cohort workers", () => {
  it("--device reaches the workers' encoders: a cuda run fails with the device's reason in the worker's log", async (ctx) => {
    if (facts.cudaProvider) ctx.skip();
    const cohort = await writePhantomCohort(join(out, "cohort"), { count: 1, width: 48, height: 40, depth: 3 });
    const lines: string[] = [];
    const r = await cohortEmbed(cohort.manifest, { model: "demo", store: join(out, "cohort-store"), local: 1, device: "cuda", log: (l) => lines.push(l) });
    expect(r.mode === "local" && r.ok).toBe(false);
    const logs = readdirSync(join(out, "cohort-store", "logs")).map((f) => readFileSync(join(out, "cohort-store", "logs", f), "utf8")).join("\n");
    expect(logs).toMatch(/device 'cuda' cannot start: onnxruntime-node's CUDA provider is not installed/);
  });
});

/** WebGPU where it has an adapter: a GPU, or lavapipe (slow, but the same kernels and numbers). */
describe("webgpu against cpu on the demo model", () => {
  let webgpu: string | undefined = "not probed";
  beforeAll(async () => {
    webgpu = await probeDevice("webgpu");
  });

  it("embeddings within 1e-3, masks with Dice and IoU >= 0.99, through loadModel and the CLI", async (ctx) => {
    if (!canRun(webgpu === undefined, `WebGPU has no adapter here (${webgpu}); install mesa-vulkan-drivers/bookworm-backports (.ci/apt-packages.txt)`)) return ctx.skip();
    const slice = generatePhantomSlice({ seed: 500201, modality: "ct", width: 192, height: 160, depth: 24, slice: 10 });
    const { objects } = extractObjects({ width: slice.width, height: slice.height, data: slice.labels });
    const prompts: Prompt[] = objects
      .filter((o) => o.area > 100)
      .slice(0, 3)
      .flatMap((o) => [{ points: [{ x: o.center.x, y: o.center.y, positive: true }] }, { box: o.box }]);
    expect(prompts.length).toBeGreaterThanOrEqual(4);
    const cpu = await loadModel(DEMO, { device: "cpu" });
    const gpu = await loadModel(DEMO, { device: "webgpu", decoderDevice: "webgpu" });
    try {
      expect(gpu.devices).toEqual({ encoder: "webgpu", decoder: "webgpu" });
      expect(inspect(gpu)).toMatch(/encoder .* on webgpu\n {2}decoder .* on webgpu/);
      const [a, b] = [await cpu.embed(slice), await gpu.embed(slice)];
      let maxDiff = 0;
      for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
      expect(maxDiff).toBeLessThan(1e-3);
      // Each decoder on each embedding: the device's encoder and the device's decoder both agree.
      for (const p of prompts) {
        const reference = await cpu.segment(a, p);
        for (const [model, e] of [[gpu, b], [cpu, b], [gpu, a]] as const) {
          const r = await model.segment(e, p);
          expect(r.token).toBe(reference.token);
          expect(dice(r.mask, reference.mask)).toBeGreaterThanOrEqual(0.99);
          expect(iou(r.mask, reference.mask)).toBeGreaterThanOrEqual(0.99);
        }
      }
    } finally {
      await Promise.all([cpu.dispose(), gpu.dispose()]);
    }
    // The CLI's embedding on webgpu against its embedding on cpu (same file, same preprocessing).
    const onGpu = medicosam(["embed", "--model", DEMO, "data/phantom-slice.png", "--out", join(out, "cli-webgpu")], { [DEVICE_ENV]: "webgpu" });
    expect(onGpu.code).toBe(0);
    expect(onGpu.stderr).toMatch(/device: encoder on webgpu, decoder on cpu \(asked for webgpu\)/);
    expect(medicosam(["embed", "--model", DEMO, "data/phantom-slice.png", "--out", join(out, "cli-cpu"), "--device", "cpu"]).code).toBe(0);
    const [fa, fb] = ["cli-cpu", "cli-webgpu"].map((d) => new Float32Array(new Uint8Array(readFileSync(join(out, d, "embedding.f32"))).buffer));
    let maxDiff = 0;
    for (let i = 0; i < fa!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fa![i]! - fb![i]!));
    expect(maxDiff).toBeLessThan(1e-3);
  }, 600_000);
});
