/**
 * Cohorts: slices per second of `cohortEmbed` end to end (worker processes started, model
 * loaded, every slice embedded and written to the store) with `--local 1` and `--local 2`, on
 * small phantom cohorts, with the demo model and with the random-weight ViT-B of models/bench
 * (MedicoSAM's cost). Also the peak memory of one worker with its encoder process (what a
 * Slurm task needs: `--mem`). `--quick` leaves ViT-B out.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { cohortEmbed } from "../kernel/cohort/run.js";
import { defaultBenchModelDir, ensureBenchModel } from "../models/bench/generate.js";
import { writePhantomCohort } from "../kernel/cohort/phantom-cohort.js";
import type { Metric, SectionResult } from "./types.js";

/** Resident memory (MB) of `pid` and all its descendants, from /proc. */
function treeRssMB(pid: number): number {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [p, pp] of parents) if (pp === tree[i]) tree.push(p);
  let kib = 0;
  for (const p of tree) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      kib += m ? Number(m[1]) : 0;
    } catch {
      // gone meanwhile
    }
  }
  return (kib * 1024) / 1e6;
}

interface Run {
  readonly slicesPerS: number;
  readonly wallS: number;
  readonly peakWorkerMB: number;
}

async function embedRun(manifest: string, model: string, store: string, workers: number, slices: number): Promise<Run> {
  const pids: number[] = [];
  let peak = 0;
  const sampler = setInterval(() => {
    for (const pid of pids) peak = Math.max(peak, treeRssMB(pid));
  }, 250);
  const t0 = performance.now();
  try {
    const r = await cohortEmbed(manifest, { model, store, local: workers, log: () => {}, onWorker: (_k, pid) => pids.push(pid) });
    if (r.mode !== "local" || !r.ok) throw new Error(`cohort embed with --local ${workers} failed: ${JSON.stringify(r)}`);
  } finally {
    clearInterval(sampler);
  }
  const wallS = (performance.now() - t0) / 1000;
  return { slicesPerS: slices / wallS, wallS, peakWorkerMB: peak };
}

export async function benchCohort(options: { quick?: boolean } = {}): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), "medicosam-bench-cohort-"));
  const metrics: Metric[] = [];
  const details: Record<string, unknown> = { cores: availableParallelism(), loadAverageAtStart: loadavg()[0] };
  try {
    const cases: { label: string; model: string; count: number; depth: number }[] = [{ label: "demo", model: "demo", count: 4, depth: options.quick ? 8 : 24 }];
    if (!options.quick) {
      const vitb = ensureBenchModel(defaultBenchModelDir()).dir;
      cases.push({ label: "ViT-B (random weights)", model: vitb, count: 2, depth: 3 });
    }
    for (const c of cases) {
      const cohort = await writePhantomCohort(join(dir, c.label.split(" ")[0]!), { count: c.count, depth: c.depth, width: 128, height: 112 });
      const slices = c.count * c.depth;
      const runs: Record<string, Run> = {};
      for (const workers of [1, 2]) {
        const run = await embedRun(cohort.manifest, c.model, join(dir, `store-${c.label.split(" ")[0]}-${workers}`), workers, slices);
        runs[workers] = run;
        metrics.push({
          name: `${c.label}: cohort embed --local ${workers}, ${c.count} x ${c.depth} slices, end to end`,
          unit: "slices/s",
          value: run.slicesPerS,
          note: `${run.wallS.toFixed(1)} s, load ${loadavg()[0]!.toFixed(1)}`,
        });
        metrics.push({ name: `${c.label}: peak RSS of one worker + its encoder, --local ${workers}`, unit: "MB", value: run.peakWorkerMB });
      }
      metrics.push({ name: `${c.label}: --local 2 / --local 1`, unit: "x", value: runs[2]!.slicesPerS / runs[1]!.slicesPerS });
      details[c.label] = runs;
    }
    details.loadAverageAtEnd = loadavg()[0];
    return { section: "cohort", metrics, details };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
