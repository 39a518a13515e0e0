/**
 * `cohortEmbed` / `cohortEvaluate`: what `medicosam cohort embed|evaluate` does, callable from
 * a notebook. The manifest and its files are checked, the model is found, the store and
 * results folders are bound to the model and settings, and then the unfinished volumes are
 * handed to N local worker processes or submitted as one Slurm job array. Workers run
 * `medicosam cohort ... --worker K` (local) or `--task slurm` (array task); see worker.ts.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";
import { resolveModel, type Precision } from "../sam/model-files.js";
import type { VolumeIntensity } from "../cache/volume-embeddings.js";
import type { ViewName } from "../io/volume-view.js";
import { writeJsonAtomic } from "./atomic.js";
import { claimIdentity, readIdentity, resultsIdentity, ResultsLayout, storeIdentity, StoreLayout, type ModelIdentity } from "./layout.js";
import { runLocalWorkers } from "./local.js";
import { readCohortManifest, type CohortManifest } from "./manifest.js";
import {
  checkEmbedSettings,
  checkProtocol,
  DEFAULT_EMBED_SETTINGS,
  DEFAULT_PROTOCOL,
  formatVolumeIntensity,
  parseVolumeIntensity,
  type EmbedSettings,
  type ProtocolSettings,
} from "./settings.js";
import { batchScript, shardsOf, submitBatch, type SlurmOptions } from "./slurm.js";
import { embedDone, modelIdentityOf, type CohortCommand } from "./worker.js";
import { canonical } from "../cache/disk-store.js";
import type { Device } from "../sam/device.js";

export interface CohortRunOptions {
  /** A registry name ("demo", "medicosam") or a model folder. */
  readonly model: string;
  readonly precision?: Precision;
  /** Where the workers' encoders run (LoadOptions.device); default their MEDICOSAM_DEVICE, else cpu. */
  readonly device?: Device;
  /** The embedding store (a folder; on a shared filesystem for Slurm). */
  readonly store: string;
  readonly view?: ViewName;
  /** `per-slice` (default), `per-volume`, `window:L,W`, a CT preset, or the VolumeIntensity. */
  readonly intensity?: VolumeIntensity | string;
  /** Worker processes on this machine (default 1). Ignored with `slurm`. */
  readonly local?: number;
  /** Submit a Slurm job array instead (true: Slurm's defaults). */
  readonly slurm?: SlurmOptions | boolean;
  /** Where progress lines go (default console.log). */
  readonly log?: (line: string) => void;
  /** Stops local workers (they record where they stopped; run again to resume). */
  readonly signal?: AbortSignal;
  /** Hears each local worker's pid. */
  readonly onWorker?: (worker: number, pid: number) => void;
}

export interface CohortEvaluateOptions extends CohortRunOptions {
  /** The results folder. */
  readonly out: string;
  /** Protocol settings (defaults: the paper's, DEFAULT_PROTOCOL). */
  readonly protocol?: Partial<ProtocolSettings>;
}

export type CohortRunResult =
  | { readonly mode: "nothing-to-do"; readonly volumes: number }
  | {
      readonly mode: "local";
      readonly volumes: number;
      /** Volumes that were not complete when the run started. */
      readonly pending: number;
      /** Volumes complete after the run, and those still not. */
      readonly complete: number;
      readonly incomplete: readonly string[];
      readonly workers: readonly { readonly code: number | null; readonly signal: string | null; readonly log: string }[];
      readonly ok: boolean;
    }
  | { readonly mode: "slurm"; readonly volumes: number; readonly pending: number; readonly jobId: string; readonly shards: readonly number[]; readonly script: string; readonly scriptPath: string }
  | { readonly mode: "dry-run"; readonly volumes: number; readonly pending: number; readonly shards: readonly number[]; readonly script: string };

/** The CLI entry the workers run. */
export function cliEntry(): string {
  return join(packageRoot(), "bin", "medicosam.js");
}

function embedSettingsOf(o: CohortRunOptions): EmbedSettings {
  const intensity = o.intensity === undefined ? DEFAULT_EMBED_SETTINGS.intensity : typeof o.intensity === "string" ? parseVolumeIntensity(o.intensity) : o.intensity;
  return checkEmbedSettings({ view: o.view ?? DEFAULT_EMBED_SETTINGS.view, intensity });
}

function protocolArgs(p: ProtocolSettings): string[] {
  return [
    "--starts", p.starts.length ? p.starts.join(",") : "none",
    "--corrections", String(p.corrections),
    ...(p.useMask ? ["--mask-prompts"] : []),
    "--seed", String(p.seed),
    "--min-size", String(p.minSize),
    "--slice-step", String(p.sliceStep),
    "--3d", p.prompts3d.length ? p.prompts3d.join(",") : "none",
  ];
}

/** Compares an existing identity file without writing one (dry runs). */
async function checkIdentity(file: string, identity: object, what: string): Promise<void> {
  if (!existsSync(file)) return;
  const existing = await readIdentity<object>(file);
  if (canonical(existing) !== canonical(identity)) throw new Error(`${file}: this ${what} was made for other settings (${canonical(existing)}); use another folder.`);
}

async function run(command: CohortCommand, manifestPath: string, o: CohortRunOptions, results?: { out: string; protocol: ProtocolSettings }): Promise<CohortRunResult> {
  const log = o.log ?? ((line: string) => console.log(line));
  const embed = embedSettingsOf(o);
  const manifest: CohortManifest = await readCohortManifest(manifestPath, { requireLabels: command === "evaluate" });
  const resolved = await resolveModel(o.model, { verifyChecksums: false, ...(o.precision ? { precision: o.precision } : {}) });
  const identity: ModelIdentity = modelIdentityOf(resolved);
  const store = new StoreLayout(o.store);
  const resultsLayout = results ? new ResultsLayout(results.out) : undefined;
  const slurm = o.slurm === true ? {} : o.slurm || undefined;
  const dryRun = slurm?.dryRun ?? false;
  const storeId = storeIdentity(identity, embed);
  const resultsId = results ? resultsIdentity(identity, embed, results.protocol) : undefined;
  if (dryRun) {
    await checkIdentity(store.identityFile, storeId, "store");
    if (resultsLayout) await checkIdentity(resultsLayout.identityFile, resultsId!, "results folder");
  } else {
    await mkdir(store.root, { recursive: true });
    await claimIdentity(store.identityFile, storeId, "store");
    if (resultsLayout) {
      await mkdir(resultsLayout.root, { recursive: true });
      await claimIdentity(resultsLayout.identityFile, resultsId!, "results folder");
      // What gather compares its volumes with (the latest manifest run into this folder).
      await writeJsonAtomic(join(resultsLayout.root, "manifest.json"), { manifest: manifest.path, sha256: manifest.sha256, ids: manifest.volumes.map((v) => v.id) });
    }
  }
  const pending: number[] = [];
  for (const v of manifest.volumes) {
    const complete = resultsLayout ? existsSync(resultsLayout.result(v.id)) : (await embedDone(store, v.id)) !== undefined;
    if (!complete) pending.push(v.index);
  }
  const volumes = manifest.volumes.length;
  if (pending.length === 0) {
    log(`nothing to do: all ${volumes} volume(s) are ${command === "embed" ? "embedded" : "evaluated"}`);
    return { mode: "nothing-to-do", volumes };
  }
  const args = [
    "cohort", command, manifest.path,
    "--model", resolved.folder ?? String(o.model),
    ...(o.precision ? ["--precision", o.precision] : []),
    ...(o.device ? ["--device", o.device] : []),
    "--store", store.root,
    ...(resultsLayout ? ["--out", resultsLayout.root] : []),
    "--view", embed.view,
    "--intensity", formatVolumeIntensity(embed.intensity),
    ...(results ? protocolArgs(results.protocol) : []),
    "--manifest-sha256", manifest.sha256,
  ];
  const logRoot = resultsLayout ?? store;
  if (slurm) {
    const perTask = slurm.perTask ?? 1;
    const shards = shardsOf(pending, perTask);
    const script = batchScript({
      command,
      argv: [process.execPath, cliEntry(), ...args, "--task", "slurm", "--per-task", String(perTask)],
      shards,
      logDir: logRoot.logs,
      volumes,
      manifest: manifest.path,
      options: slurm,
    });
    if (dryRun) return { mode: "dry-run", volumes, pending: pending.length, shards, script };
    await mkdir(logRoot.logs, { recursive: true });
    const { jobId, scriptPath } = await submitBatch(script, logRoot.slurm, command);
    log(`submitted Slurm job ${jobId}: ${shards.length} array task(s) for ${pending.length} unfinished volume(s) of ${volumes}; logs in ${logRoot.logs}`);
    return { mode: "slurm", volumes, pending: pending.length, jobId, shards, script, scriptPath };
  }
  const workers = Math.max(1, Math.min(o.local ?? 1, pending.length));
  log(`${command}: ${pending.length} unfinished volume(s) of ${volumes}, ${workers} local worker(s); logs in ${logRoot.logs}`);
  const ran = await runLocalWorkers([cliEntry(), ...args], workers, {
    logDir: logRoot.logs,
    command,
    log,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onWorker ? { onSpawn: o.onWorker } : {}),
  });
  if (o.signal?.aborted) {
    throw new Error(`interrupted: the workers stopped and recorded where; run the same ${command} again to resume (logs in ${logRoot.logs}).`);
  }
  const incomplete: string[] = [];
  for (const v of manifest.volumes) {
    const complete = resultsLayout ? existsSync(resultsLayout.result(v.id)) : (await embedDone(store, v.id)) !== undefined;
    if (!complete) incomplete.push(v.id);
  }
  const workerRows = ran.codes.map((code, k) => ({ code, signal: ran.signals[k] ?? null, log: ran.logs[k]! }));
  const ok = incomplete.length === 0 && workerRows.every((w) => w.code === 0);
  for (const [k, w] of workerRows.entries()) {
    if (w.code !== 0) log(`worker ${k + 1} ${w.signal ? `was killed by ${w.signal}` : `exited with ${w.code}`}; its log: ${w.log}`);
  }
  log(
    incomplete.length
      ? `${volumes - incomplete.length} of ${volumes} volume(s) complete; not: ${incomplete.join(", ")}. Run the same command again to resume.`
      : `all ${volumes} volume(s) complete`,
  );
  return { mode: "local", volumes, pending: pending.length, complete: volumes - incomplete.length, incomplete, workers: workerRows, ok };
}

/** Embeds every slice of every volume of the manifest into the store. */
export function cohortEmbed(manifest: string, options: CohortRunOptions): Promise<CohortRunResult> {
  return run("embed", manifest, options);
}

/** The paper's 2D and 3D protocols on every volume of the manifest (embedding what is missing). */
export function cohortEvaluate(manifest: string, options: CohortEvaluateOptions): Promise<CohortRunResult> {
  const protocol = checkProtocol({ ...DEFAULT_PROTOCOL, ...options.protocol });
  return run("evaluate", manifest, options, { out: options.out, protocol });
}
