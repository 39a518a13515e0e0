/**
 * Volume benchmarks, called by the runner (bench/sections/volume.ts) in a child process:
 *
 * - loading a 512x512x300 int16 .nii.gz (a CT-like volume generated once into the temp
 *   folder) with readNifti, against `zlib.gunzipSync` of the same file alone: time and peak
 *   memory, each run in a fresh process so that peaks are not shared (targets: within 1.3x
 *   of gunzipSync's time, peak under 3x the raw voxel size);
 * - the embedding store: writing and reading one slice's embedding (half precision);
 * - propagation per slice, excluding the encoder.
 *
 * `benchVolume()` prints nothing; the runner formats what it returns.
 */
import { fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { readNifti } from "../kernel/io/nifti-read.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import type { Affine } from "../kernel/io/volume.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import type { Prompt } from "../kernel/sam/prompt.js";

const DIMS = [512, 512, 300] as const;
const RAW_BYTES = DIMS[0] * DIMS[1] * DIMS[2] * 2;
const MiB = 2 ** 20;

/** A deterministic CT-like int16 volume: air, a body ellipse with organs, bone, and noise (realistic gzip ratio). */
function ctLikeVolume(): Int16Array {
  const [nx, ny, nz] = DIMS;
  const out = new Int16Array(nx * ny * nz);
  let seed = 1;
  const noise = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return ((seed >>> 16) % 41) - 20; // +-20 HU
  };
  let p = 0;
  for (let k = 0; k < nz; k++) {
    const bodyScale = 1 - 0.3 * Math.abs(k - nz / 2) / nz;
    for (let j = 0; j < ny; j++) {
      const y = (j - ny / 2) / (0.38 * ny * bodyScale);
      for (let i = 0; i < nx; i++, p++) {
        const x = (i - nx / 2) / (0.45 * nx * bodyScale);
        const r2 = x * x + y * y;
        let v: number;
        if (r2 > 1) v = -1000 + (noise() >> 2);
        else {
          v = 40 + noise();
          const ox = (i - nx * 0.6) / (nx * 0.12);
          const oy = (j - ny * 0.45) / (ny * 0.1);
          if (ox * ox + oy * oy < 1) v = 60 + noise();
          if (r2 > 0.85) v = -100 + noise(); // fat
          const sx = (i - nx / 2) / (nx * 0.05);
          const sy = (j - ny * 0.7) / (ny * 0.05);
          if (sx * sx + sy * sy < 1) v = 700 + noise() * 5; // spine
        }
        out[p] = v;
      }
    }
  }
  return out;
}

const AFFINE: Affine = [
  [-0.7, 0, 0, 180],
  [0, -0.7, 0, 180],
  [0, 0, 1.5, -200],
  [0, 0, 0, 1],
];

/** The benchmark CT, generated once (about 10 s) and kept in the temp folder. */
export async function ensureBenchCt(): Promise<string> {
  const dir = join(tmpdir(), "medicosam-bench");
  const file = join(dir, "ct-512x512x300-int16-v1.nii.gz");
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const { geometryFromAffine } = await import("../kernel/io/nifti-write.js");
  const partial = `${file}.${process.pid}.nii.gz`;
  await writeNifti(partial, { dims: [...DIMS], data: ctLikeVolume(), datatype: "int16", geometry: geometryFromAffine(AFFINE) }, { gzipLevel: 6 });
  renameSync(partial, file);
  return file;
}

interface ChildFigures {
  readonly ms: number;
  /** Peak RSS above the RSS just before the measured step (bytes). */
  readonly peakAboveBaseline: number;
  readonly detail?: Record<string, number>;
}

function statusBytes(field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Runs in a fresh process: one measured load, reported over IPC. */
async function childMeasure(kind: string, file: string): Promise<ChildFigures> {
  try {
    const { writeFileSync } = await import("node:fs");
    writeFileSync("/proc/self/clear_refs", "5"); // reset VmHWM to the current RSS
  } catch {
    /* the peak then covers process start-up too, which only makes it larger */
  }
  const base = statusBytes("VmRSS");
  const t0 = performance.now();
  let detail: Record<string, number> | undefined;
  if (kind === "gunzipSync") {
    const compressed = readFileSync(file);
    const t1 = performance.now();
    const raw = gunzipSync(compressed);
    detail = { readFileMs: t1 - t0, gunzipOnlyMs: performance.now() - t1, bytes: raw.length };
  } else if (kind === "readNifti") {
    const v = await readNifti(file);
    detail = { voxels: v.data.length };
  } else throw new Error(`unknown measurement ${kind}`);
  const ms = performance.now() - t0;
  return { ms, peakAboveBaseline: statusBytes("VmHWM") - base, ...(detail ? { detail } : {}) };
}

function runChild(kind: string, file: string): Promise<ChildFigures> {
  const self = fileURLToPath(import.meta.url);
  const execArgv = self.endsWith(".ts") ? ["--import", "tsx"] : [];
  return new Promise((resolve, reject) => {
    const child = fork(self, ["--volume-child", kind, file], { execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"] });
    child.on("message", (m: { ok: boolean; figures?: ChildFigures; error?: string }) => {
      if (m.ok && m.figures) resolve(m.figures);
      else reject(new Error(m.error ?? `${kind}: child failed`));
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`${kind}: child exited with code ${code}`));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summary(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, median: median(s), p95: s[s.length - 1]!, min: s[0]!, max: s[s.length - 1]! };
}

export async function benchVolume(): Promise<Record<string, unknown>> {
  const file = await ensureBenchCt();
  const runs = 3;
  const g: ChildFigures[] = [];
  const r: ChildFigures[] = [];
  // Interleaved, so that a busy moment on the shared machine hits both sides alike.
  for (let i = 0; i < runs; i++) {
    g.push(await runChild("gunzipSync", file));
    r.push(await runChild("readNifti", file));
  }
  const gMs = median(g.map((x) => x.ms));
  const rMs = median(r.map((x) => x.ms));
  const rPeak = median(r.map((x) => x.peakAboveBaseline));
  const gPeak = median(g.map((x) => x.peakAboveBaseline));
  const figures: Record<string, unknown> = {
    "volume file (512x512x300 int16 .nii.gz) MB": (await import("node:fs")).statSync(file).size / MiB,
    "raw voxels MB": RAW_BYTES / MiB,
    "readFileSync + gunzipSync ms": summary(g.map((x) => x.ms)),
    "  of which gunzipSync alone ms": summary(g.map((x) => x.detail?.gunzipOnlyMs ?? NaN)),
    "readNifti .nii.gz (header, geometry, voxels) ms": summary(r.map((x) => x.ms)),
    "readNifti / gunzip time ratio (target < 1.3)": rMs / gMs,
    "readFileSync + gunzipSync peak RSS above baseline MB": gPeak / MiB,
    "readNifti peak RSS above baseline MB": rPeak / MiB,
    "readNifti peak / raw voxel size (target < 3)": rPeak / RAW_BYTES,
    details: { file, gunzip: g, readNifti: r },
  };
  Object.assign(figures, await benchStoreAndPropagation());
  return figures;
}

/** Embedding store: write and read of one slice (half precision, one file per slice). */
async function benchStore(): Promise<Record<string, unknown>> {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { VolumeEmbeddingStore, SLICE_BYTES } = await import("../kernel/cache/disk-store.js");
  const { EMBEDDING_LENGTH } = await import("../kernel/sam/embedding.js");
  const root = mkdtempSync(join(tmpdir(), "medicosam-bench-store-"));
  try {
    const depth = 20;
    const store = await VolumeEmbeddingStore.open(
      root,
      { dataSignature: "bench", model: { name: "bench", identity: "bench" }, settings: {} },
      { depth, originalSize: { height: 512, width: 512 }, resizedSize: { height: 1024, width: 1024 } },
    );
    const data = new Float32Array(EMBEDDING_LENGTH);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 2;
    const e = { data, originalSize: { height: 512, width: 512 }, resizedSize: { height: 1024, width: 1024 }, modelName: "bench", key: "bench" };
    const writes: number[] = [];
    const reads: number[] = [];
    for (let z = 0; z < depth; z++) {
      const t0 = performance.now();
      await store.write(z, e);
      writes.push(performance.now() - t0);
    }
    for (let z = 0; z < depth; z++) {
      const t0 = performance.now();
      await store.read(z);
      reads.push(performance.now() - t0);
    }
    return {
      "embedding store: write one slice (float32 -> float16, file) ms": summary(writes.slice(2)),
      "embedding store: read one slice (file -> float32) ms": summary(reads.slice(2)),
      "embedding store: size per slice MB": SLICE_BYTES / MiB,
      "embedding store: size per 300-slice volume MB": (SLICE_BYTES * 300) / MiB,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Propagation per slice, encoder excluded: the SAM ViT-B decoder of the benchmark model
 * (random weights, real architecture) on 512x512 slices with precomputed embeddings, plus our
 * prompt projection and IoU. Random weights give meaningless masks, so after each real
 * decoder call the chain continues with the phantom's own mask of that slice (documented in
 * the details); every per-slice cost is still paid.
 */
async function benchPropagation(): Promise<Record<string, unknown>> {
  const { defaultBenchModelDir, ensureBenchModel } = await import("../models/bench/generate.js");
  const { packageRoot } = await import("../kernel/package-root.js");
  const { loadModel } = await import("../kernel/sam/model.js");
  const { propagate } = await import("../kernel/interactive/propagate.js");
  const { EMBEDDING_LENGTH } = await import("../kernel/sam/embedding.js");
  const dir = defaultBenchModelDir();
  ensureBenchModel(dir);
  const model = await loadModel({ encoder: join(packageRoot(), "models", "analytic", "encoder.onnx"), decoder: join(dir, "decoder.onnx") }, { verifyChecksums: false });
  try {
    const W = 512;
    const H = 512;
    const depth = 40;
    const truth = (z: number) => {
      const m = new Uint8Array(W * H);
      const r = 1 - ((z - depth / 2) / (depth / 2 + 2)) ** 2;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (((x - 250) / 90) ** 2 + ((y - 270) / 70) ** 2 <= r) m[y * W + x] = 1;
      return m;
    };
    const truths = Array.from({ length: depth }, (_, z) => truth(z));
    const data = new Float32Array(EMBEDDING_LENGTH);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.5;
    const embedding: Embedding = { data, originalSize: { height: H, width: W }, resizedSize: { height: 1024, width: 1024 }, modelName: model.manifest.name, key: "bench" };
    const out: Record<string, unknown> = {};
    for (const projection of ["mask", "box", "points", "single_point"] as const) {
      const decoderMs: number[] = [];
      // propagate() fetches slice z's embedding right before segmenting it: remember z there.
      let current = depth / 2;
      const stack = {
        depth,
        width: W,
        height: H,
        get: async (z: number) => {
          current = z;
          return embedding;
        },
      };
      const segmenter = {
        segment: async (e: Embedding, prompt: Prompt, options?: { multimask?: "auto" | "on" | "off" }) => {
          const t0 = performance.now();
          const r = await model.segment(e, prompt, options);
          decoderMs.push(performance.now() - t0);
          return { ...r, mask: truths[current]! };
        },
      };
      const t0 = performance.now();
      const r = await propagate(stack, segmenter, [{ z: depth / 2, mask: truths[depth / 2]! }], { projection, iouThreshold: 0.5, boxExtension: 0.05 });
      const total = performance.now() - t0;
      out[`propagation per slice, ${projection} (512x512, encoder excluded) ms`] = total / r.slices.length;
      out[`  of which SAM decoder segment(), ${projection} ms`] = summary(decoderMs.slice(1));
    }
    return out;
  } finally {
    await model.dispose();
  }
}

async function benchStoreAndPropagation(): Promise<Record<string, unknown>> {
  return { ...(await benchStore()), ...(await benchPropagation()) };
}

if (process.argv[2] === "--volume-child" && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  childMeasure(process.argv[3]!, process.argv[4]!).then(
    (figures) => process.send!({ ok: true, figures }, () => process.disconnect()),
    (err: unknown) => {
      process.exitCode = 1;
      process.send!({ ok: false, error: err instanceof Error ? err.message : String(err) }, () => process.disconnect());
    },
  );
}
