/**
 * A cohort run as one Slurm job array: one task per shard of `perTask` volumes (shard s = the
 * volumes at manifest positions s*perTask .. s*perTask+perTask-1), only the shards that still
 * hold unfinished volumes, and at most `maxRunning` tasks at once (`--array=...%N`), so that a
 * 500-volume cohort does not take over the partition. Each task runs the same `medicosam
 * cohort` command with `--task slurm` and finds its shard from SLURM_ARRAY_TASK_ID; its
 * stdout and stderr go to one log file per task (`--output`).
 *
 * Nothing here is a scheduler: resubmitting the same command after a failure, a time limit or
 * `scancel` submits the shards that are still unfinished, and their tasks resume.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SlurmOptions {
  readonly partition?: string;
  /** Time limit per task, in Slurm's forms: "MM", "HH:MM:SS", "D-HH". */
  readonly time?: string;
  /** Memory per task, e.g. "8G" (`--mem`). */
  readonly mem?: string;
  readonly cpusPerTask?: number;
  /** Generic resources, e.g. "gpu:1". */
  readonly gres?: string;
  readonly account?: string;
  /** Array tasks running at once (default 10). */
  readonly maxRunning?: number;
  /** Volumes per array task (default 1). */
  readonly perTask?: number;
  /** More `sbatch` options, each as written on the command line ("--qos=long"). */
  readonly sbatchArgs?: readonly string[];
  /** Print the script, submit nothing, write nothing. */
  readonly dryRun?: boolean;
}

export const DEFAULT_MAX_RUNNING = 10;

/** [0, 1, 2, 5, 7, 8] with limit 4 -> "0-2,5,7-8%4". */
export function arraySpec(indices: readonly number[], maxRunning: number): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return `${parts.join(",")}%${maxRunning}`;
}

/** The manifest positions of array task `task`. */
export function shardIndices(task: number, perTask: number, count: number): number[] {
  const out: number[] = [];
  for (let i = task * perTask; i < Math.min(count, (task + 1) * perTask); i++) out.push(i);
  return out;
}

/** The array tasks that hold at least one of `pending` (manifest positions). */
export function shardsOf(pending: readonly number[], perTask: number): number[] {
  return [...new Set(pending.map((i) => Math.floor(i / perTask)))].sort((a, b) => a - b);
}

/** Single-quoted for bash. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ScriptPlan {
  readonly command: "embed" | "evaluate";
  /** The task's command line: node, the CLI entry, `cohort <command>` and its options (absolute paths). */
  readonly argv: readonly string[];
  readonly shards: readonly number[];
  readonly logDir: string;
  readonly volumes: number;
  readonly manifest: string;
  readonly options: SlurmOptions;
}

export function batchScript(plan: ScriptPlan): string {
  const o = plan.options;
  const perTask = o.perTask ?? 1;
  const lines = [
    "#!/bin/bash",
    `#SBATCH --job-name=medicosam-${plan.command}`,
    `#SBATCH --array=${arraySpec(plan.shards, o.maxRunning ?? DEFAULT_MAX_RUNNING)}`,
    `#SBATCH --output=${join(plan.logDir, `${plan.command}-%A_%a.log`)}`,
    `#SBATCH --cpus-per-task=${o.cpusPerTask ?? 1}`,
    ...(o.mem ? [`#SBATCH --mem=${o.mem}`] : []),
    ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.account ? [`#SBATCH --account=${o.account}`] : []),
    ...(o.gres ? [`#SBATCH --gres=${o.gres}`] : []),
    ...(o.sbatchArgs ?? []).map((a) => `#SBATCH ${a}`),
    "",
    `# medicosam cohort ${plan.command}: ${plan.volumes} volume(s) of ${plan.manifest},`,
    `# ${perTask} per array task; task s takes manifest rows s*${perTask} .. s*${perTask}+${perTask - 1} (0-based) and`,
    "# skips what is complete. Resubmit the same command to resume after a failure or scancel.",
    "set -euo pipefail",
    `exec ${plan.argv.map(shellQuote).join(" ")}`,
    "",
  ];
  return lines.join("\n");
}

/** Writes the script beside the logs and submits it; returns the job id and the script's path. */
export async function submitBatch(script: string, dir: string, command: string): Promise<{ jobId: string; scriptPath: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const scriptPath = join(dir, `${command}-${stamp}.sh`);
  await writeFile(scriptPath, script);
  await chmod(scriptPath, 0o755);
  let stdout: string;
  try {
    ({ stdout } = await run("sbatch", ["--parsable", scriptPath], { timeout: 60_000 }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new Error("sbatch is not on PATH: --slurm needs a Slurm login node (or use --local N).", { cause: err });
    throw new Error(`sbatch refused ${scriptPath}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
  // --parsable prints "jobid" or "jobid;cluster"
  const jobId = stdout.trim().split(";")[0]!;
  if (!/^\d+$/.test(jobId)) throw new Error(`sbatch printed '${stdout.trim()}', not a job id.`);
  return { jobId, scriptPath };
}

/** Job ids Slurm still knows as pending or running ("1234_7" for array tasks); undefined without squeue. */
export async function slurmQueue(): Promise<Set<string> | undefined> {
  try {
    const { stdout } = await run("squeue", ["-h", "-r", "-o", "%i"], { timeout: 30_000 });
    return new Set(stdout.split("\n").map((l) => l.trim()).filter(Boolean));
  } catch {
    return undefined;
  }
}
