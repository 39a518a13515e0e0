/**
 * Cohorts on a real Slurm: the one-node cluster of tests/slurm (started by
 * `sudo tests/slurm/start.sh`; .ci/run does it). A job array over four phantom volumes gives
 * the bytes a `--local` run gives, `status` follows it while it runs; an array task cancelled
 * with `scancel` in the middle of a volume leaves nothing partial, and resubmitting the same
 * command submits only its shard, which resumes. Without Slurm the tests skip with the reason
 * (and fail under MEDICOSAM_REQUIRE_ALL_TESTS=1, as in CI).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeHalf } from "../kernel/cache/float16.js";
import { SLICE_BYTES } from "../kernel/cache/disk-store.js";
import { isTemporary } from "../kernel/cohort/atomic.js";
import { cohortEmbed, cohortEvaluate, type CohortRunResult } from "../kernel/cohort/run.js";
import { cohortStatus } from "../kernel/cohort/status.js";
import { canRun } from "./helpers/require.js";
import { writePhantomCohort, type CohortFixture } from "../kernel/cohort/phantom-cohort.js";
import { REPO } from "./jupyter/helpers/kernel-process.js";
import { embeddingChunks, filesUnder } from "./helpers/files.js";

const SLURM_CONF = process.env.MEDICOSAM_SLURM_CONF ?? join(REPO, "tests", "slurm", "slurm.conf");
const env = { ...process.env, SLURM_CONF };

function slurm(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { env, encoding: "utf8", timeout: 20_000 });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function prerequisites(): { ok: boolean; reason: string } {
  if (spawnSync("sinfo", ["--version"]).error) {
    return { ok: false, reason: "Slurm is not installed (no sinfo): apt-get install slurm-wlm munge, then sudo tests/slurm/start.sh" };
  }
  const ping = slurm("scontrol", ["ping"]);
  if (!/is UP/.test(ping.out)) return { ok: false, reason: `no Slurm controller answers for ${SLURM_CONF}: start the test cluster with sudo tests/slurm/start.sh (${ping.out.trim().split("\n")[0]})` };
  const state = slurm("sinfo", ["-h", "-n", "localhost", "-o", "%T"]).out.trim();
  if (!/^(idle|mixed|allocated|completing)/.test(state)) return { ok: false, reason: `the test cluster's node is '${state}', not idle: rerun sudo tests/slurm/start.sh` };
  return { ok: true, reason: "" };
}

const { ok, reason } = prerequisites();
const run = canRun(ok, reason);
// sbatch, squeue and scancel, in this process and in the tasks (sbatch exports the environment)
if (run) process.env.SLURM_CONF = SLURM_CONF;

const PROTOCOL = { starts: ["box", "point"] as const, corrections: 1, sliceStep: 6, prompts3d: ["box"] as const };
const quiet = () => {};


function inQueue(jobId: string): boolean {
  return slurm("squeue", ["-h", "-r", "-j", jobId, "-o", "%i"]).out.trim() !== "";
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function submitted(r: CohortRunResult): Extract<CohortRunResult, { mode: "slurm" }> {
  expect(r.mode).toBe("slurm");
  return r as Extract<CohortRunResult, { mode: "slurm" }>;
}

describe.runIf(run)("cohorts on a one-node Slurm cluster", () => {
  let dir: string;
  let cohort: CohortFixture;
  let reference: { store: string; out: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "medicosam-cohort-slurm-"));
    cohort = await writePhantomCohort(join(dir, "data"), { depth: 12 });
    reference = { store: join(dir, "store-local"), out: join(dir, "results-local") };
    const r = await cohortEvaluate(cohort.manifest, { model: "demo", ...reference, local: 2, protocol: PROTOCOL, log: quiet });
    expect(r.mode === "local" && r.ok).toBe(true);
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a job array over four volumes: status while it runs, then the same bytes as --local", async () => {
    const store = join(dir, "store-slurm");
    const out = join(dir, "results-slurm");
    const job = submitted(await cohortEvaluate(cohort.manifest, { model: "demo", store, out, protocol: PROTOCOL, slurm: { maxRunning: 2, cpusPerTask: 1, mem: "1G" }, log: quiet }));
    expect(job.shards).toEqual([0, 1, 2, 3]);
    expect(job.script).toContain("#SBATCH --array=0-3%2");
    let sawRunning = "";
    const t0 = Date.now();
    await until("the job array to finish", 150_000, async () => {
      const status = await cohortStatus(cohort.manifest, { store, out });
      const running = status.volumes.find((v) => v.evaluate?.state === "running");
      if (running && !sawRunning) sawRunning = `${running.id}: ${running.evaluate!.detail}`;
      expect(status.counts("evaluate").failed, status.toString()).toBe(0);
      return status.complete && !inQueue(job.jobId) ? true : undefined;
    });
    console.log(`Slurm job ${job.jobId}: 4 tasks done in ${((Date.now() - t0) / 1000).toFixed(1)} s; status while running said ${sawRunning}`);
    expect(sawRunning).toMatch(new RegExp(`^\\S+: Slurm job ${job.jobId}_\\d on \\S+`));

    const after = await cohortStatus(cohort.manifest, { store, out });
    expect(after.counts("evaluate")).toEqual({ done: 4, running: 0, failed: 0, missing: 0 });
    expect(after.counts("embed")).toEqual({ done: 4, running: 0, failed: 0, missing: 0 });
    for (const id of cohort.ids) {
      const mine = readFileSync(join(out, "volumes", id, "result.json"));
      expect(mine.equals(readFileSync(join(reference.out, "volumes", id, "result.json"))), `${id}: result differs from --local`).toBe(true);
    }
    const differ = embeddingChunks(store).filter((f) => !readFileSync(f).equals(readFileSync(join(reference.store, relative(store, f)))));
    expect(embeddingChunks(store)).toHaveLength(4 * 12);
    expect(differ).toEqual([]);
    // one log per task, naming its volume
    for (const [k, id] of cohort.ids.entries()) {
      const log = readFileSync(join(out, "logs", `evaluate-${job.jobId}_${k}.log`), "utf8");
      expect(log).toContain(`Slurm job ${job.jobId}_${k}: ${id}: evaluated in`);
    }
  }, 200_000);

  it("scancel in the middle of a volume, then the same command again: only that shard, resumed, nothing partial", async () => {
    const deep = await writePhantomCohort(join(dir, "deep"), { count: 2, depth: 48, width: 64, height: 56 });
    const store = join(dir, "store-cancel");
    const submit = () => cohortEmbed(deep.manifest, { model: "demo", store, slurm: { maxRunning: 2 }, log: quiet });
    const job = submitted(await submit());
    const caught = await until("an array task in the middle of a volume", 60_000, () => {
      for (const [k, id] of deep.ids.entries()) {
        const lease = join(store, "volumes", id, "lease.json");
        let info: { slurmJob?: string; storeKey?: string };
        try {
          info = JSON.parse(readFileSync(lease, "utf8")) as typeof info;
        } catch {
          continue;
        }
        if (!info.storeKey || !info.slurmJob) continue;
        const slices = join(store, "embeddings", info.storeKey, "slices");
        const stored = existsSync(slices) ? readdirSync(slices).filter((f) => f.endsWith(".f16")) : [];
        if (stored.length >= 3 && stored.length <= 48 - 12) {
          expect(slurm("scancel", [info.slurmJob]).ok).toBe(true);
          return { k, id, task: info.slurmJob, key: info.storeKey, stored: stored.length };
        }
      }
      return undefined;
    }, 25);
    await until("the array to leave the queue", 120_000, () => (inQueue(job.jobId) ? undefined : true), 250);
    const slicesDir = join(store, "embeddings", caught.key, "slices");
    const before = new Map(readdirSync(slicesDir).map((f) => [f, statSync(join(slicesDir, f)).mtimeMs]));
    console.log(`cancelled ${caught.task} (${caught.id}) at ${caught.stored} slices; ${before.size} on disk when it stopped`);
    expect(before.size).toBeLessThan(48);

    const status = await cohortStatus(deep.manifest, { store });
    const cancelled = status.volumes.find((v) => v.id === caught.id)!;
    expect(cancelled.embed.state).toBe("failed");
    expect(cancelled.embed.detail).toMatch(/stopped by SIGTERM/);
    expect(cancelled.slices).toEqual({ stored: before.size, depth: 48 });
    expect(status.volumes.filter((v) => v.id !== caught.id).map((v) => v.embed.state)).toEqual(["done"]);
    const partial = (root: string) => filesUnder(root).filter((f) => isTemporary(f) || f.endsWith("lease.json") || (f.endsWith(".f16") && statSync(f).size !== SLICE_BYTES));
    expect(partial(store)).toEqual([]);

    const again = submitted(await submit());
    expect(again.shards).toEqual([caught.k]);
    await until("the resubmitted task", 120_000, () => (inQueue(again.jobId) ? undefined : true), 250);
    const done = await cohortStatus(deep.manifest, { store });
    expect(done.counts()).toEqual({ done: 2, running: 0, failed: 0, missing: 0 });
    expect(partial(store)).toEqual([]);
    // resumed: what the cancelled task wrote was kept, the rest computed
    for (const [f, mtime] of before) expect(statSync(join(slicesDir, f)).mtimeMs, f).toBe(mtime);
    const log = readFileSync(join(store, "logs", `embed-${again.jobId}_${caught.k}.log`), "utf8");
    expect(log).toContain(`${caught.id}: embedded (${48 - before.size} computed, ${before.size} from the store)`);
    for (const f of readdirSync(slicesDir)) {
      const bytes = readFileSync(join(slicesDir, f));
      const values = decodeHalf(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
      expect(values.every(Number.isFinite), f).toBe(true);
      expect(values.some((v) => v !== 0), f).toBe(true);
    }
  }, 200_000);
});
