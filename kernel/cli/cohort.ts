/**
 * `medicosam cohort embed|evaluate|status|gather`: a dataset of volumes (a manifest) embedded
 * and evaluated with the paper's protocols, by N local processes or as a Slurm job array;
 * resumable, and safe on a shared filesystem. The work itself is kernel/cohort/.
 */
import { writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { cohortTableCsv, gatherCohort } from "../cohort/gather.js";
import { ManifestError, parseCohortManifest } from "../cohort/manifest.js";
import { cohortEmbed, cohortEvaluate, type CohortRunOptions, type CohortRunResult } from "../cohort/run.js";
import { DEFAULT_PROTOCOL, formatVolumeIntensity, parseVolumeIntensity, type ProtocolSettings } from "../cohort/settings.js";
import { DEFAULT_MAX_RUNNING, shardIndices, type SlurmOptions } from "../cohort/slurm.js";
import { cohortStatus } from "../cohort/status.js";
import { CohortWorker, type CohortCommand } from "../cohort/worker.js";
import { tableBundle } from "../display/figures-protocol.js";
import type { Prompt3dMode } from "../evaluation/evaluate3d.js";
import type { StartMode } from "../evaluation/protocol-prompts.js";
import { VIEWS, type ViewName } from "../io/volume-view.js";
import type { Precision } from "../sam/model-files.js";
import { deviceOption, parse, runCommand, UsageError } from "./args.js";

const RUN_OPTIONS = `where it runs (one of):
  --local N              N worker processes on this machine (default 1)
  --slurm                one sbatch job array, one task per shard of volumes:
    --per-task K           volumes per array task (default 1)
    --max-running N        array tasks running at once (default ${DEFAULT_MAX_RUNNING}; --array=...%N)
    --partition P  --time T  --mem M  --cpus-per-task N  --gres G  --account A
    --sbatch ARG           any other sbatch option, e.g. --sbatch=--qos=long (repeatable)
    --dry-run              print the batch script; submit and write nothing
embedding:
  --model M              registry name (demo, medicosam, ...) or model folder
  --precision P          fp32 (default) or int8
  --device D             where the workers' encoders run: cpu (default), webgpu, cuda or auto;
                         default $MEDICOSAM_DEVICE (for Slurm, ask for the GPU with --gres)
  --store DIR            the embedding store (on a filesystem every node mounts, for Slurm)
  --view V               axial (default), coronal or sagittal
  --intensity I          per-slice (default, the reference), per-volume, window:L,W or a CT preset`;

export const USAGE = `usage: medicosam cohort embed MANIFEST --model M --store DIR [--local N | --slurm ...]
       medicosam cohort evaluate MANIFEST --model M --store DIR --out RESULTS [protocol] [--local N | --slurm ...]
       medicosam cohort status MANIFEST --store DIR [--out RESULTS] [--json]
       medicosam cohort gather RESULTS --out table.csv

MANIFEST lists the volumes (NIfTI files or DICOM series folders), as CSV with the columns
id,image,labels,dataset (image required; paths relative to the manifest) or as JSON
{"volumes": [{"id", "image", "labels", "dataset"}]}. It is checked before any work starts and
every problem is reported at once.

embed      every slice of every volume into the store (float16, one file per slice)
evaluate   the paper's protocols on every volume with a label map, embedding what is missing:
           2D on each slice that holds a label, 3D from each label's central slice; one
           result per volume in RESULTS
status     done / running / failed / missing per volume, slices stored, who runs what
gather     RESULTS as one table (protocol,model,start,round,dice,iou,datasets) in --out

Every file is written under a temporary name and renamed into place; a rerun of the same
command (or resubmission) skips what is complete and resumes the rest. Logs: one file per task
in STORE/logs (embed) or RESULTS/logs (evaluate). status and gather only read files and run
where you call them.

${RUN_OPTIONS}
protocol (evaluate; defaults are the paper's):
  --starts LIST          2D start prompts: point,box (default) or none
  --corrections N        2D correction rounds after the start (default 7)
  --mask-prompts         2D: feed the previous low-res logits back as mask prompt
  --seed N               seed of the simulated user's points (default 0)
  --min-size N           2D: components under N pixels are not prompted (default 20)
  --slice-step N         2D: every Nth slice of those holding a label (default 1)
  --3d LIST              3D prompts: box,points (default) or none`;

const options = {
  model: { type: "string" },
  precision: { type: "string" },
  device: { type: "string" },
  store: { type: "string" },
  out: { type: "string" },
  view: { type: "string" },
  intensity: { type: "string" },
  local: { type: "string" },
  slurm: { type: "boolean" },
  "per-task": { type: "string" },
  "max-running": { type: "string" },
  partition: { type: "string" },
  time: { type: "string" },
  mem: { type: "string" },
  "cpus-per-task": { type: "string" },
  gres: { type: "string" },
  account: { type: "string" },
  sbatch: { type: "string", multiple: true },
  "dry-run": { type: "boolean" },
  starts: { type: "string" },
  corrections: { type: "string" },
  "mask-prompts": { type: "boolean" },
  seed: { type: "string" },
  "min-size": { type: "string" },
  "slice-step": { type: "string" },
  "3d": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  // set on the workers' command lines by `--local` and `--slurm`, not by users
  worker: { type: "string" },
  task: { type: "string" },
  threads: { type: "string" },
  "log-file": { type: "string" },
  "manifest-sha256": { type: "string" },
} as const;

type Values = ReturnType<typeof parse<typeof options>>["values"];

function whole(text: string | undefined, what: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === "" || !Number.isInteger(v) || v < min) throw new UsageError(`${what} must be a whole number >= ${min}, not '${text}'.`);
  return v;
}

function list<T extends string>(text: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === "none") return [];
  const items = text.split(",").map((s) => s.trim());
  for (const i of items) if (!allowed.includes(i as T)) throw new UsageError(`${what} takes ${allowed.join(", ")} (comma-separated) or none, not '${i}'.`);
  return [...new Set(items)] as T[];
}

function protocolOf(v: Values): ProtocolSettings {
  return {
    starts: list<StartMode>(v.starts, ["point", "box"], "--starts") ?? DEFAULT_PROTOCOL.starts,
    corrections: whole(v.corrections, "--corrections", 0) ?? DEFAULT_PROTOCOL.corrections,
    useMask: v["mask-prompts"] ?? false,
    seed: whole(v.seed, "--seed", 0) ?? DEFAULT_PROTOCOL.seed,
    minSize: whole(v["min-size"], "--min-size", 1) ?? DEFAULT_PROTOCOL.minSize,
    sliceStep: whole(v["slice-step"], "--slice-step", 1) ?? DEFAULT_PROTOCOL.sliceStep,
    prompts3d: list<Prompt3dMode>(v["3d"], ["box", "points"], "--3d") ?? DEFAULT_PROTOCOL.prompts3d,
  };
}

function viewOf(v: Values): ViewName {
  const view = (v.view ?? "axial") as ViewName;
  if (!VIEWS.includes(view)) throw new UsageError(`--view must be one of ${VIEWS.join(", ")}, not '${v.view}'.`);
  return view;
}

function precisionOf(v: Values): Precision | undefined {
  if (v.precision !== undefined && v.precision !== "fp32" && v.precision !== "int8") throw new UsageError(`--precision must be fp32 or int8, not '${v.precision}'.`);
  return v.precision as Precision | undefined;
}

function slurmOf(v: Values): SlurmOptions | undefined {
  const slurmOnly = ["per-task", "max-running", "partition", "time", "mem", "cpus-per-task", "gres", "account", "sbatch", "dry-run"] as const;
  if (!v.slurm) {
    const given = slurmOnly.filter((k) => v[k] !== undefined);
    if (given.length) throw new UsageError(`${given.map((k) => `--${k}`).join(", ")} ${given.length > 1 ? "go" : "goes"} with --slurm.`);
    return undefined;
  }
  if (v.local !== undefined) throw new UsageError("give --local N or --slurm, not both.");
  const perTask = whole(v["per-task"], "--per-task", 1);
  const maxRunning = whole(v["max-running"], "--max-running", 1);
  const cpus = whole(v["cpus-per-task"], "--cpus-per-task", 1);
  return {
    ...(perTask ? { perTask } : {}),
    ...(maxRunning ? { maxRunning } : {}),
    ...(cpus ? { cpusPerTask: cpus } : {}),
    ...(v.partition ? { partition: v.partition } : {}),
    ...(v.time ? { time: v.time } : {}),
    ...(v.mem ? { mem: v.mem } : {}),
    ...(v.gres ? { gres: v.gres } : {}),
    ...(v.account ? { account: v.account } : {}),
    ...(v.sbatch?.length ? { sbatchArgs: v.sbatch } : {}),
    dryRun: v["dry-run"] ?? false,
  };
}

function report(result: CohortRunResult): number {
  if (result.mode === "dry-run") {
    process.stdout.write(result.script);
    console.error(`(dry run: ${result.shards.length} array task(s) for ${result.pending} unfinished volume(s) of ${result.volumes}; nothing submitted)`);
    return 0;
  }
  if (result.mode === "slurm") {
    console.log(`job ${result.jobId}; its batch script: ${result.scriptPath}`);
    return 0;
  }
  if (result.mode === "nothing-to-do") return 0;
  return result.ok ? 0 : 1;
}

/** A worker process (`--worker K` from --local, `--task slurm` in a Slurm array task). */
async function runWorker(command: CohortCommand, manifestPath: string, v: Values): Promise<number> {
  const manifest = parseCohortManifest(manifestPath);
  if (v["manifest-sha256"] && v["manifest-sha256"] !== manifest.sha256) {
    throw new Error(`${manifest.path} changed since the run was started (sha256 ${manifest.sha256}, expected ${v["manifest-sha256"]}); shards would shift. Start the run again.`);
  }
  let volumes = manifest.volumes;
  let task: string;
  let slurmJob: string | undefined;
  let logFile = v["log-file"];
  if (v.task !== undefined) {
    const id = v.task === "slurm" ? process.env.SLURM_ARRAY_TASK_ID : v.task;
    if (id === undefined) throw new UsageError("--task slurm needs SLURM_ARRAY_TASK_ID (it runs inside a Slurm array task).");
    const shard = whole(id, "the array task id", 0)!;
    const perTask = whole(v["per-task"], "--per-task", 1) ?? 1;
    const indices = new Set(shardIndices(shard, perTask, manifest.volumes.length));
    volumes = manifest.volumes.filter((x) => indices.has(x.index));
    const job = process.env.SLURM_ARRAY_JOB_ID;
    slurmJob = job ? `${job}_${shard}` : undefined;
    task = slurmJob ? `Slurm job ${slurmJob}` : `shard ${shard}`;
    if (job && !logFile) logFile = join(resolve(command === "evaluate" ? v.out! : v.store!), "logs", `${command}-${job}_${shard}.log`);
  } else {
    task = `local worker ${v.worker}`;
  }
  const threads = whole(v.threads, "--threads", 1) ?? whole(process.env.SLURM_CPUS_PER_TASK, "SLURM_CPUS_PER_TASK", 1) ?? 1;
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(0, 19)}Z ${task}: ${line}\n`);
  const worker = new CohortWorker({
    command,
    volumes,
    model: v.model!,
    ...(precisionOf(v) ? { precision: precisionOf(v)! } : {}),
    ...(v.device !== undefined ? { device: deviceOption(v.device) } : {}),
    store: v.store!,
    ...(v.out ? { out: v.out } : {}),
    embed: { view: viewOf(v), intensity: parseVolumeIntensity(v.intensity ?? "per-slice") },
    ...(command === "evaluate" ? { protocol: protocolOf(v) } : {}),
    task,
    ...(slurmJob ? { slurmJob } : {}),
    ...(logFile ? { logFile } : {}),
    threads,
    log,
  });
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    process.once(signal, () => {
      worker.stopSync(signal);
      log(`stopped by ${signal}`);
      process.exit(code);
    });
  }
  log(`${command}: ${volumes.map((x) => x.id).join(", ") || "no volumes"} (${volumes.length} of ${manifest.volumes.length})`);
  const summary = await worker.run();
  log(`finished: ${summary.done.length} done, ${summary.failed.length} failed, ${summary.heldElsewhere.length} left to other tasks`);
  return summary.failed.length ? 1 : 0;
}

async function runWork(command: CohortCommand, positionals: string[], v: Values): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(positionals.length ? "give exactly one MANIFEST." : "no MANIFEST given.");
  if (!v.model) throw new UsageError("--model is required (a registry name such as demo or medicosam, or a model folder).");
  if (!v.store) throw new UsageError("--store DIR is required.");
  if (command === "evaluate" && !v.out) throw new UsageError("--out RESULTS is required.");
  if (command === "embed" && v.out) throw new UsageError("--out goes with evaluate; embed writes only to --store.");
  const protocolFlags = ["starts", "corrections", "mask-prompts", "seed", "min-size", "slice-step", "3d"] as const;
  if (command === "embed") {
    const given = protocolFlags.filter((k) => v[k] !== undefined);
    if (given.length) throw new UsageError(`${given.map((k) => `--${k}`).join(", ")} ${given.length > 1 ? "are protocol options" : "is a protocol option"} of evaluate.`);
  }
  let intensity;
  try {
    intensity = v.intensity === undefined ? undefined : parseVolumeIntensity(v.intensity);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (v.worker !== undefined || v.task !== undefined) return runWorker(command, positionals[0]!, v);
  const slurm = slurmOf(v);
  const local = whole(v.local, "--local", 1);
  const base: CohortRunOptions = {
    model: v.model,
    ...(precisionOf(v) ? { precision: precisionOf(v)! } : {}),
    ...(v.device !== undefined ? { device: deviceOption(v.device) } : {}),
    store: v.store,
    view: viewOf(v),
    ...(intensity ? { intensity: formatVolumeIntensity(intensity) } : {}),
    ...(slurm ? { slurm } : { local: local ?? 1 }),
    log: (line) => console.error(line),
  };
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  try {
    const result =
      command === "embed"
        ? await cohortEmbed(positionals[0]!, { ...base, signal: controller.signal })
        : await cohortEvaluate(positionals[0]!, { ...base, signal: controller.signal, out: v.out!, protocol: protocolOf(v) });
    return report(result);
  } finally {
    process.off("SIGINT", onSigint);
  }
}

async function runStatus(positionals: string[], v: Values): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(positionals.length ? "give exactly one MANIFEST." : "no MANIFEST given.");
  if (!v.store) throw new UsageError("--store DIR is required.");
  const status = await cohortStatus(positionals[0]!, { store: v.store, ...(v.out ? { out: v.out } : {}) });
  if (v.json) console.log(JSON.stringify({ manifest: status.manifest, summary: status.summary(), volumes: status.volumes }, null, 1));
  else console.log(status.toString());
  return 0;
}

async function runGather(positionals: string[], v: Values): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(positionals.length ? "give exactly one RESULTS folder." : "no RESULTS folder given.");
  if (!v.out) throw new UsageError("--out table.csv is required.");
  const results = await gatherCohort(positionals[0]!);
  const out = resolve(v.out);
  await mkdir(dirname(out), { recursive: true });
  writeFileSync(out, cohortTableCsv(results));
  console.log(tableBundle(results.table, `${results.volumes.length} volume(s), model ${results.identity.model.name}`).text);
  if (results.missing.length) console.error(`note: ${results.missing.length} volume(s) of the manifest have no result yet: ${results.missing.join(", ")}`);
  console.log(`-> ${out}`);
  return 0;
}

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const [sub, ...rest] = args;
    if (!sub || sub === "--help" || sub === "-h") {
      console.log(USAGE);
      return sub ? 0 : 2;
    }
    const { values, positionals } = parse(rest, options);
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    try {
      switch (sub) {
        case "embed":
        case "evaluate":
          return await runWork(sub, positionals, values);
        case "status":
          return await runStatus(positionals, values);
        case "gather":
          return await runGather(positionals, values);
        default:
          throw new UsageError(`unknown cohort command '${sub}'; it is one of embed, evaluate, status, gather.`);
      }
    } catch (err) {
      if (err instanceof ManifestError) {
        console.error(`error: ${err.message}`);
        return 1;
      }
      throw err;
    }
  });
}
