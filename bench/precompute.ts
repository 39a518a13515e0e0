/**
 * A volume's precompute, slice after slice against pipelined (VolumeEmbeddings `pipeline`:
 * the kernel prepares the next slice while the encoder process runs the current one), side by
 * side in one process: the shipped CT phantom, the demo model, a fresh on-disk store per run,
 * the two modes alternating (ABBA...) so that a change in the machine's load hits both.
 *
 * The demo model, not the ViT-B: its encoder run is short (about 12 ms), so the work around it
 * (slice extraction, intensity, hashing, resize, IPC, the float16 store) is what the rate
 * shows. For the ViT-B on a CPU (about 10 s a slice) that work is well under 1 %; on a GPU it
 * is the same milliseconds next to a much shorter run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { VolumeEmbeddings } from "../kernel/cache/volume-embeddings.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { packageRoot } from "../kernel/package-root.js";
import { loadModel } from "../kernel/sam/model.js";
import { summarize } from "./stats.js";
import type { Metric } from "./types.js";

type Mode = "sequential" | "pipelined";

/** Slices per second of each mode, alternating, with the encoder's session on `threads` threads (undefined: onnxruntime's default). */
async function ratesOf(threads: number | undefined, rounds: number): Promise<{ rates: Record<Mode, number[]>; depth: number; size: string; load: number[] }> {
  const root = packageRoot();
  const volume = await openVolume(join(root, "data", "samples", "ct-phantom.nii.gz"));
  const sessionOptions = threads === undefined ? {} : { intraOpNumThreads: threads, interOpNumThreads: 1 };
  const model = await loadModel(join(root, "models", "demo"), { verifyChecksums: false, encoderSessionOptions: sessionOptions, decoderSessionOptions: sessionOptions });
  const rates: Record<Mode, number[]> = { sequential: [], pipelined: [] };
  const load: number[] = [];
  try {
    // Warm-up: the first encoder runs of a process are slower.
    const warm = await VolumeEmbeddings.open(volume, model, { storeRoot: null });
    for (let z = 0; z < 3; z++) await model.embed(warm.slice(z), { cache: false });
    for (let round = 0; round < rounds; round++) {
      const order: readonly Mode[] = round % 2 === 0 ? ["sequential", "pipelined"] : ["pipelined", "sequential"];
      for (const mode of order) {
        const store = mkdtempSync(join(tmpdir(), "medicosam-bench-precompute-"));
        try {
          model.cache.clear();
          const ve = await VolumeEmbeddings.open(volume, model, { storeRoot: store, pipeline: mode === "pipelined" });
          const t0 = performance.now();
          const p = await ve.precompute();
          rates[mode].push(p.computed / ((performance.now() - t0) / 1000));
        } finally {
          rmSync(store, { recursive: true, force: true });
        }
        load.push(loadavg()[0]!);
      }
    }
  } finally {
    await model.dispose();
  }
  const [w, h, depth] = volume.dims;
  return { rates, depth, size: `${w}x${h}`, load };
}

export async function benchPrecompute(options: { quick?: boolean } = {}): Promise<{ metrics: Metric[]; details: Record<string, unknown> }> {
  const rounds = options.quick ? 2 : 4;
  const metrics: Metric[] = [];
  const details: Record<string, unknown> = {};
  // Default threads (both cores for the encoder), and one thread as a cohort worker runs it
  // (kernel/cohort/worker.ts), which leaves a core free, as a GPU would.
  for (const threads of [undefined, 1] as const) {
    const r = await ratesOf(threads, rounds);
    const seq = summarize(r.rates.sequential);
    const pipe = summarize(r.rates.pipelined);
    const label = threads === undefined ? "encoder on all cores" : `encoder on ${threads} thread`;
    const range = (s: typeof seq) => `${rounds} runs, ${s.min.toFixed(1)}-${s.max.toFixed(1)}`;
    metrics.push(
      { name: `precompute, slice after slice, ${label} (demo model, ${r.size} slices x ${r.depth}, on-disk store)`, unit: "slices/s", value: seq.median, note: range(seq) },
      { name: `precompute, pipelined, ${label}`, unit: "slices/s", value: pipe.median, note: range(pipe) },
      { name: `pipelined / slice after slice, ${label}`, unit: "x", value: pipe.median / seq.median },
    );
    details[label] = r;
  }
  return { metrics, details };
}
