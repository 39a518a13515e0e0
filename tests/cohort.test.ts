/**
 * Cohorts on this machine (`--local N`): the manifest check, resume, what a killed worker
 * leaves, the gathered table. Four small phantom volumes and the shipped demo model; the
 * workers are real processes of the built CLI (`npm run build` first), as in a user's run.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { SLICE_BYTES } from "../kernel/cache/disk-store.js";
import { isTemporary } from "../kernel/cohort/atomic.js";
import { gatherCohort, cohortTableCsv } from "../kernel/cohort/gather.js";
import { Lease, type LeaseInfo } from "../kernel/cohort/lease.js";
import { ManifestError, readCohortManifest } from "../kernel/cohort/manifest.js";
import { cohortEmbed, cohortEvaluate, type CohortRunResult } from "../kernel/cohort/run.js";
import { arraySpec, shardIndices, shardsOf } from "../kernel/cohort/slurm.js";
import { cohortStatus } from "../kernel/cohort/status.js";
import { run as cli } from "../kernel/cli/cohort.js";
import { generatePhantomVolume, writePhantomNifti } from "../kernel/phantom/index.js";
import { writePhantomCohort, type CohortFixture } from "../kernel/cohort/phantom-cohort.js";
import { embeddingChunks, filesUnder } from "./helpers/files.js";

let dir: string;
let cohort: CohortFixture;
const DEPTH = 12;
/** Small protocol settings: the cost of a run, not its meaning, is what these tests keep small. */
const PROTOCOL = { starts: ["box", "point"] as const, corrections: 1, sliceStep: 6, prompts3d: ["box"] as const };


/** Both stores hold the same slices, byte for byte. */
function sameChunks(store: string, reference: string): void {
  const mine = embeddingChunks(store);
  expect(mine.map((f) => relative(store, f)).sort()).toEqual(embeddingChunks(reference).map((f) => relative(reference, f)).sort());
  const differ = mine.filter((f) => !readFileSync(f).equals(readFileSync(join(reference, relative(store, f)))));
  expect(differ).toEqual([]);
}

function quiet(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

function local(result: CohortRunResult): Extract<CohortRunResult, { mode: "local" }> {
  expect(result.mode).toBe("local");
  return result as Extract<CohortRunResult, { mode: "local" }>;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "medicosam-cohort-"));
  cohort = await writePhantomCohort(join(dir, "data"), { depth: DEPTH });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the manifest", () => {
  it("reports every problem at once, before anything is written", async () => {
    const d = join(dir, "bad");
    mkdirSync(d);
    writeFileSync(join(d, "broken.nii.gz"), "this is not a NIfTI file\n");
    const other = generatePhantomVolume({ seed: 9, modality: "ct", width: 40, height: 32, depth: 5 });
    await writePhantomNifti(other, join(d, "small.nii.gz"), join(d, "small-labels.nii.gz"));
    const v = (name: string) => relative(d, join(cohort.dir, "volumes", name));
    const manifest = join(d, "cohort.csv");
    writeFileSync(
      manifest,
      [
        "id,image,labels,dataset",
        `ct-01,${v("ct-01.nii.gz")},${v("ct-01-labels.nii.gz")},a`,
        `ct-01,${v("mr-02.nii.gz")},${v("mr-02-labels.nii.gz")},a`,
        `bad id!,${v("ct-03.nii.gz")},,a`,
        `gone,volumes/gone.nii.gz,${v("ct-01-labels.nii.gz")},a`,
        "broken,broken.nii.gz,,a",
        `"wrong,dims",${v("mr-04.nii.gz")},small-labels.nii.gz,a`,
      ].join("\n"),
    );
    const err = await readCohortManifest(manifest, { requireLabels: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    const problems = (err as ManifestError).problems;
    const expected = [
      /^line 3: id 'ct-01' is already used in line 2$/,
      /^line 4: id 'bad id!' is not usable as a file name/,
      /^line 4 \(bad id!\): no label map/,
      /^line 5 \(gone\): image: .*gone\.nii\.gz: file or folder not found$/,
      /^line 6 \(broken\): image: .*broken\.nii\.gz: .*not a NIfTI file|^line 6 \(broken\): image: .*broken\.nii\.gz: neither NIfTI/,
      /^line 6 \(broken\): no label map/,
      /^line 7: id 'wrong,dims' is not usable/,
      /^line 7 \(wrong,dims\): the label map is 40x32x5 voxels but the image is 96x80x12$/,
    ];
    for (const re of expected) expect(problems.filter((p) => re.test(p)), `${re} in\n${problems.join("\n")}`).toHaveLength(1);
    expect(problems).toHaveLength(expected.length);

    // The command says all of it and starts nothing: no store, no results folder.
    const err2 = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const code = await cli(["evaluate", manifest, "--model", "demo", "--store", join(d, "store"), "--out", join(d, "results")]);
      expect(code).toBe(1);
      const text = err2.mock.calls.map((c) => String(c[0])).join("\n");
      expect(text).toContain(`${expected.length} problems, nothing was started`);
      for (const p of problems) expect(text).toContain(p);
    } finally {
      err2.mockRestore();
    }
    expect(existsSync(join(d, "store"))).toBe(false);
    expect(existsSync(join(d, "results"))).toBe(false);
  });

  it("reads JSON with the same rules, and without labels for embed", async () => {
    const d = join(dir, "json");
    mkdirSync(d);
    const image = join(cohort.dir, "volumes", "ct-01.nii.gz");
    writeFileSync(join(d, "m.json"), JSON.stringify({ dataset: "abdomen", volumes: [{ image }, { image, id: "x", label: "typo.nii.gz" }] }));
    const err = (await readCohortManifest(join(d, "m.json")).catch((e: unknown) => e)) as ManifestError;
    expect(err.problems).toEqual([`volumes[1]: unknown key 'label' (the keys are id, image, labels, dataset)`, `volumes[1]: image ${image} is already listed in volumes[0]`]);
    writeFileSync(join(d, "ok.json"), JSON.stringify({ dataset: "abdomen", volumes: [{ image }] }));
    const m = await readCohortManifest(join(d, "ok.json"));
    expect(m.volumes).toEqual([{ id: "ct-01", image, dataset: "abdomen", index: 0, where: "volumes[0]" }]);
  });
});

describe("leases", () => {
  const info = (over: Partial<LeaseInfo> = {}): LeaseInfo => ({ command: "embed", host: hostname(), pid: process.pid, started: "", task: "test", ...over });

  it("of five tasks that want a volume at once, one gets it; the others learn who", async () => {
    const path = join(dir, "race.lease");
    const got = await Promise.all([0, 1, 2, 3, 4].map((k) => Lease.acquire(path, info({ task: `task ${k}` }))));
    const winners = got.filter((g) => "lease" in g);
    expect(winners).toHaveLength(1);
    const holder = (winners[0] as { lease: Lease }).lease.holder.task;
    for (const g of got) if ("heldBy" in g) expect(g.heldBy.task).toBe(holder);
    await (winners[0] as { lease: Lease }).lease.release();
    expect(existsSync(path)).toBe(false);
  });

  it("is taken over when its holder is gone: a dead process here, a job Slurm no longer runs, no heartbeat for 10 min", async () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    const cases: [string, LeaseInfo, number, ReadonlySet<string> | undefined, RegExp | undefined][] = [
      ["a live process here", info(), 0, undefined, undefined],
      ["a dead process here", info({ pid: dead }), 0, undefined, /process \d+ on .* is gone/],
      ["another host, fresh heartbeat", info({ host: "node7", pid: 1 }), 0, undefined, undefined],
      ["another host, silent for 11 min", info({ host: "node7", pid: 1 }), 11 * 60_000, undefined, /no heartbeat for 11 min/],
      ["a Slurm task still queued, silent for 11 min", info({ host: "node7", pid: 1, slurmJob: "12_3" }), 11 * 60_000, new Set(["12_3"]), undefined],
      ["a Slurm task no longer queued", info({ host: "node7", pid: 1, slurmJob: "12_3" }), 0, new Set(["12_4"]), /Slurm job 12_3 is no longer queued/],
    ];
    for (const [what, held, ageMs, queue, stale] of cases) {
      const path = join(dir, `stale-${what.replace(/\W+/g, "-")}.lease`);
      writeFileSync(path, JSON.stringify(held));
      const t = new Date(Date.now() - ageMs);
      utimesSync(path, t, t);
      const takeovers: string[] = [];
      const got = await Lease.acquire(path, info({ task: "me" }), { slurmQueue: async () => queue, onTakeover: (_p, why) => takeovers.push(why) });
      if (stale) {
        expect("lease" in got, what).toBe(true);
        expect(takeovers, what).toHaveLength(1);
        expect(takeovers[0], what).toMatch(stale);
        expect((JSON.parse(readFileSync(path, "utf8")) as LeaseInfo).task).toBe("me");
        await (got as { lease: Lease }).lease.release();
      } else {
        expect("heldBy" in got, what).toBe(true);
        expect(takeovers, what).toEqual([]);
      }
      expect(readdirSync(dir).filter((f) => f.includes(".stale-") || isTemporary(f))).toEqual([]);
    }
  });
});

describe("Slurm arrays without Slurm", () => {
  it("shards by manifest position and submits only unfinished shards, with a concurrency limit", () => {
    expect(arraySpec([0, 1, 2, 5, 7, 8], 4)).toBe("0-2,5,7-8%4");
    expect(shardsOf([0, 1, 5, 6, 7], 3)).toEqual([0, 1, 2]);
    expect(shardIndices(2, 3, 7)).toEqual([6]);
  });
});

describe("a cohort on this machine", () => {
  let reference: string;

  it("embeds with --local 1, and a rerun computes nothing", async () => {
    reference = join(dir, "store-ref");
    const { log } = quiet();
    const r = local(await cohortEmbed(cohort.manifest, { model: "demo", store: reference, local: 1, log }));
    expect(r.ok).toBe(true);
    expect(r.complete).toBe(4);
    expect(embeddingChunks(reference)).toHaveLength(4 * DEPTH);
    const again = await cohortEmbed(cohort.manifest, { model: "demo", store: reference, local: 2, log });
    expect(again.mode).toBe("nothing-to-do");
    const status = await cohortStatus(cohort.manifest, { store: reference });
    expect(status.counts()).toEqual({ done: 4, running: 0, failed: 0, missing: 0 });
    expect(status.slices()).toEqual({ stored: 4 * DEPTH, known: 4 * DEPTH, unknownVolumes: 0 });
  }, 120_000);

  it("resumes: only the missing slices are computed, nothing else is rewritten", async () => {
    const store = join(dir, "store-resume");
    cpSync(reference, store, { recursive: true });
    const before = new Map(embeddingChunks(store).map((f) => [f, statSync(f).mtimeMs]));
    // mr-02 as a killed task leaves it: two slices missing, no done record
    const done = JSON.parse(readFileSync(join(store, "volumes", "mr-02", "done.json"), "utf8")) as { key: string };
    const removed = [3, 10].map((z) => join(store, "embeddings", done.key, "slices", `${String(z).padStart(4, "0")}.f16`));
    for (const f of removed) unlinkSync(f);
    unlinkSync(join(store, "volumes", "mr-02", "done.json"));
    const status = await cohortStatus(cohort.manifest, { store });
    expect(status.volumes.map((v) => v.embed.state)).toEqual(["done", "missing", "done", "done"]);

    const { lines, log: log2 } = quiet();
    const r = local(await cohortEmbed(cohort.manifest, { model: "demo", store, local: 2, log: log2 }));
    expect(r.pending).toBe(1);
    expect(r.ok).toBe(true);
    // The encoder ran twice, both times for mr-02: the workers' own count.
    const computed = lines.filter((l) => / embedded \(/.test(l));
    expect(computed).toHaveLength(1);
    expect(computed[0]).toMatch(/mr-02: embedded \(2 computed, 10 from the store\)/);
    for (const [f, mtime] of before) if (!removed.includes(f)) expect(statSync(f).mtimeMs, f).toBe(mtime);
    for (const f of removed) expect(statSync(f).size).toBe(SLICE_BYTES);
    sameChunks(store, reference);
  }, 120_000);

  it("a worker killed mid-volume leaves no partial file; the next run completes it", async () => {
    const store = join(dir, "store-killed");
    const { log } = quiet();
    let killed: { pid: number; id: string; stored: number } | undefined;
    const pids = new Map<number, number>();
    const watcher = setInterval(() => {
      if (killed) return;
      for (const id of cohort.ids) {
        const lease = join(store, "volumes", id, "lease.json");
        if (!existsSync(lease)) continue;
        let info: { pid: number; storeKey?: string };
        try {
          info = JSON.parse(readFileSync(lease, "utf8")) as { pid: number; storeKey?: string };
        } catch {
          continue;
        }
        if (!info.storeKey || ![...pids.values()].includes(info.pid)) continue;
        const slices = join(store, "embeddings", info.storeKey, "slices");
        const stored = existsSync(slices) ? readdirSync(slices).filter((f) => f.endsWith(".f16")).length : 0;
        if (stored >= 2 && stored <= DEPTH - 4) {
          process.kill(info.pid, "SIGKILL");
          killed = { pid: info.pid, id, stored };
          return;
        }
      }
    }, 10);
    let r: ReturnType<typeof local> | undefined;
    try {
      r = local(await cohortEmbed(cohort.manifest, { model: "demo", store, local: 2, log, onWorker: (k, pid) => pids.set(k, pid) }));
    } finally {
      clearInterval(watcher);
    }
    expect(killed, "no worker was caught in the middle of a volume").toBeDefined();
    console.log(`killed worker pid ${killed!.pid} on ${killed!.id} after ${killed!.stored} slices`);
    expect(r!.ok).toBe(false);
    expect(r!.workers.filter((w) => w.signal === "SIGKILL")).toHaveLength(1);
    // Whatever has a final name is whole; at most temporary files were left.
    for (const f of embeddingChunks(store)) expect(statSync(f).size, f).toBe(SLICE_BYTES);
    for (const f of filesUnder(store).filter((f) => f.endsWith(".json") && !isTemporary(f))) expect(() => JSON.parse(readFileSync(f, "utf8")), f).not.toThrow();

    // The other worker may have taken the killed one's volume over already (its process is gone).
    const again = await cohortEmbed(cohort.manifest, { model: "demo", store, local: 2, log });
    if (again.mode === "local") expect(again.ok).toBe(true);
    else expect(again.mode).toBe("nothing-to-do");
    expect(filesUnder(store).filter((f) => isTemporary(f))).toEqual([]);
    expect(filesUnder(store).filter((f) => f.endsWith("lease.json"))).toEqual([]);
    expect((await cohortStatus(cohort.manifest, { store })).counts()).toEqual({ done: 4, running: 0, failed: 0, missing: 0 });
    sameChunks(store, reference);
  }, 120_000);

  it("interrupted (Kernel > Interrupt, Ctrl-C): the workers clean up, record where they stopped, and the rerun resumes", async () => {
    const store = join(dir, "store-interrupted");
    const controller = new AbortController();
    const watcher = setInterval(() => {
      if (embeddingChunks(store).length >= 3) controller.abort();
    }, 10);
    const err = await cohortEmbed(cohort.manifest, { model: "demo", store, local: 2, log: () => {}, signal: controller.signal }).catch((e: unknown) => e);
    clearInterval(watcher);
    expect(String(err)).toMatch(/interrupted: the workers stopped and recorded where; run the same embed again to resume/);
    const status = await cohortStatus(cohort.manifest, { store });
    const stopped = status.volumes.filter((v) => v.embed.state === "failed");
    expect(stopped.length).toBeGreaterThanOrEqual(1);
    for (const v of stopped) expect(v.embed.detail).toMatch(/^stopped by SIGTERM/);
    expect(status.counts().running).toBe(0);
    expect(filesUnder(store).filter((f) => isTemporary(f) || f.endsWith("lease.json"))).toEqual([]);
    for (const f of embeddingChunks(store)) expect(statSync(f).size, f).toBe(SLICE_BYTES);
    const before = embeddingChunks(store).length;
    const { lines, log } = quiet();
    expect(local(await cohortEmbed(cohort.manifest, { model: "demo", store, local: 2, log })).ok).toBe(true);
    const computed = lines.map((l) => / embedded \((\d+) computed/.exec(l)?.[1]).filter((n) => n !== undefined).map(Number);
    expect(computed.reduce((a, b) => a + b, 0)).toBe(4 * DEPTH - before);
    sameChunks(store, reference);
  }, 120_000);

  it("evaluates with --local 2 and gathers one table in the protocol summary's layout", async () => {
    const out = join(dir, "results");
    const { lines, log } = quiet();
    const r = local(await cohortEvaluate(cohort.manifest, { model: "demo", store: reference, out, local: 2, log, protocol: PROTOCOL }));
    expect(r.ok, lines.join("\n")).toBe(true);
    const status = await cohortStatus(cohort.manifest, { store: reference, out });
    expect(status.counts("evaluate")).toEqual({ done: 4, running: 0, failed: 0, missing: 0 });
    expect((await cohortEvaluate(cohort.manifest, { model: "demo", store: reference, out, local: 2, log, protocol: PROTOCOL })).mode).toBe("nothing-to-do");

    const tablePath = join(dir, "table.csv");
    const logSpy = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      expect(await cli(["gather", out, "--out", tablePath])).toBe(0);
    } finally {
      logSpy.mockRestore();
    }
    const [header, ...rows] = readFileSync(tablePath, "utf8").trim().split("\n");
    expect(header).toBe("protocol,model,start,round,dice,iou,datasets");
    expect(rows.map((l) => l.split(",").slice(0, 4).join(","))).toEqual(["2d,demo,box,0", "2d,demo,box,1", "2d,demo,point,0", "2d,demo,point,1", "3d,demo,box,0"]);
    for (const row of rows) expect(row.split(",")[6]).toBe("2");

    // The numbers: the paper's averaging redone here from the per-volume results.
    const gathered = await gatherCohort(out);
    expect(cohortTableCsv(gathered)).toBe(readFileSync(tablePath, "utf8"));
    expect(gathered.missing).toEqual([]);
    type Row = { dataset: string; start: string; classId: number; round: number; dice: number };
    const volumes = cohort.ids.map((id) => JSON.parse(readFileSync(join(out, "volumes", id, "result.json"), "utf8")) as { slices2d: number[]; protocol2d: { classes: Row[] }; classes3d: Row[] });
    for (const v of volumes) expect(v.slices2d.length).toBeGreaterThan(0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const paperMean = (all: Row[], start: string, round: number) => {
      const mine = all.filter((c) => c.start === start && c.round === round);
      const datasets = [...new Set(mine.map((c) => c.dataset))].sort();
      return mean(datasets.map((d) => {
        const classes = [...new Set(mine.filter((c) => c.dataset === d).map((c) => c.classId))];
        return mean(classes.map((k) => mean(mine.filter((c) => c.dataset === d && c.classId === k).map((c) => c.dice))));
      }));
    };
    const rows2d = volumes.flatMap((v) => v.protocol2d.classes);
    const rows3d = volumes.flatMap((v) => v.classes3d);
    const expected = [paperMean(rows2d, "box", 0), paperMean(rows2d, "box", 1), paperMean(rows2d, "point", 0), paperMean(rows2d, "point", 1), paperMean(rows3d, "box", 0)];
    rows.forEach((row, k) => expect(Number(row.split(",")[4])).toBeCloseTo(expected[k]!, 12));
    // 3D: one row per scored label and volume; the demo model finds something in 3D
    expect(new Set(rows3d.map((c) => c.dataset))).toEqual(new Set(["phantom-ct", "phantom-mr"]));
    expect(Number(rows[4]!.split(",")[4])).toBeGreaterThan(0.2);
  }, 180_000);

  it("--slurm --dry-run prints the array script for the unfinished volumes and writes nothing", async () => {
    const out = join(dir, "results-dry");
    const store = join(dir, "store-dry");
    const r = await cohortEvaluate(cohort.manifest, {
      model: "demo",
      store,
      out,
      protocol: PROTOCOL,
      slurm: { dryRun: true, partition: "cpu", time: "02:00:00", mem: "4G", cpusPerTask: 2, gres: "gpu:1", maxRunning: 3, perTask: 3 },
    });
    expect(r.mode).toBe("dry-run");
    const script = (r as Extract<CohortRunResult, { mode: "dry-run" }>).script;
    for (const line of ["#SBATCH --array=0-1%3", "#SBATCH --partition=cpu", "#SBATCH --time=02:00:00", "#SBATCH --mem=4G", "#SBATCH --cpus-per-task=2", "#SBATCH --gres=gpu:1", `#SBATCH --output=${join(out, "logs", "evaluate-%A_%a.log")}`]) {
      expect(script.split("\n")).toContain(line);
    }
    expect(script).toMatch(/\nexec \S+node\S* \S+bin\/medicosam\.js cohort evaluate \S+cohort\.csv --model \S+models\/demo .*--task slurm --per-task 3\n/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(store)).toBe(false);
  });
});
