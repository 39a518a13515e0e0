/**
 * One worker of a cohort run: a `--local` process or a Slurm array task. It walks its list of
 * volumes (all of them for a local worker, its shard for an array task) and works on each one
 * it can lease, skipping what is complete and what a live task holds; after each volume it
 * looks at the list again, so a volume whose holder died (a stale lease) is taken over.
 *
 * `evaluate` embeds a volume first if the store lacks slices of it (under the store's lease;
 * if an `embed` task holds that, it waits for it). Failures are recorded per volume
 * (failed.json) and the worker goes on with the next; a signal (SIGTERM from scancel, a time
 * limit or preemption; SIGINT) stops it at once through `stopSync`, which deletes the
 * temporary files in flight, records the volume as stopped and releases the leases.
 */
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { modelIdentity, type VolumeEmbeddings } from "../cache/volume-embeddings.js";
import { openVolume } from "../io/volume-open.js";
import type { Volume } from "../io/volume.js";
import { resolveModel, type ModelSource, type Precision } from "../sam/model-files.js";
import { loadModel, type SamModel } from "../sam/model.js";
import type { Device } from "../sam/device.js";
import { removeInFlightSync, sweepTemporaries, sweepTemporariesSync, temporaryName, writeJsonAtomic } from "./atomic.js";
import { embedVolume, openEmbeddings, StoppedError, storedSlices } from "./embed-volume.js";
import { evaluateVolume } from "./evaluate-volume.js";
import { claimIdentity, resultsIdentity, ResultsLayout, storeIdentity, StoreLayout, type EmbedDone, type FailedRecord, type ModelIdentity } from "./layout.js";
import { Lease, type LeaseInfo } from "./lease.js";
import type { CohortVolume } from "./manifest.js";
import type { EmbedSettings, ProtocolSettings } from "./settings.js";
import { slurmQueue } from "./slurm.js";

export type CohortCommand = "embed" | "evaluate";

export interface WorkerPlan {
  readonly command: CohortCommand;
  /** The volumes this worker may work on, in order. */
  readonly volumes: readonly CohortVolume[];
  readonly model: ModelSource;
  readonly precision?: Precision;
  readonly device?: Device;
  readonly store: string;
  /** The results folder (evaluate). */
  readonly out?: string;
  readonly embed: EmbedSettings;
  readonly protocol?: ProtocolSettings;
  /** "local worker 2", "Slurm job 1234_7". */
  readonly task: string;
  readonly slurmJob?: string;
  readonly logFile?: string;
  /** onnxruntime intra-op threads of the encoder and decoder sessions. */
  readonly threads: number;
  readonly log: (line: string) => void;
}

export interface WorkerSummary {
  readonly done: readonly string[];
  readonly failed: readonly { readonly id: string; readonly error: string }[];
  /** Volumes left to a live task that held them. */
  readonly heldElsewhere: readonly { readonly id: string; readonly by: string }[];
}

/** How often an evaluation waits for an `embed` task that holds the store's lease of its volume. */
const WAIT_FOR_EMBED_MS = 5_000;

/** A store volume is embedded when its done record exists and every slice is on disk. */
export async function embedDone(store: StoreLayout, id: string): Promise<EmbedDone | undefined> {
  let done: EmbedDone;
  try {
    done = JSON.parse(await readFile(store.done(id), "utf8")) as EmbedDone;
  } catch {
    return undefined;
  }
  return (await storedSlices(store, done.key)) >= done.depth ? done : undefined;
}

export function modelIdentityOf(resolved: Awaited<ReturnType<typeof resolveModel>>): ModelIdentity {
  return { name: resolved.manifest.name, identity: modelIdentity(resolved) };
}

export class CohortWorker {
  private readonly store: StoreLayout;
  private readonly results: ResultsLayout | undefined;
  private readonly stop = new AbortController();
  private model: SamModel | undefined;
  /** What `stopSync` must clean up: the volume at work, its leases and folders. */
  private current: { id: string; leases: Lease[]; failedPath: string } | undefined;

  private queue: { at: number; jobs: Promise<ReadonlySet<string> | undefined> } | undefined;

  /** `squeue`'s live jobs, asked at most every 15 s (only about leases held on other hosts). */
  private readonly liveJobs = (): Promise<ReadonlySet<string> | undefined> => {
    if (!this.queue || Date.now() - this.queue.at > 15_000) this.queue = { at: Date.now(), jobs: slurmQueue() };
    return this.queue.jobs;
  };

  constructor(private readonly plan: WorkerPlan) {
    this.store = new StoreLayout(plan.store);
    this.results = plan.out ? new ResultsLayout(plan.out) : undefined;
    if (plan.command === "evaluate" && (!this.results || !plan.protocol)) throw new Error("evaluate needs a results folder and protocol settings.");
  }

  private leaseInfo(command: CohortCommand): LeaseInfo {
    return {
      command,
      host: hostname(),
      pid: process.pid,
      started: new Date().toISOString(),
      task: this.plan.task,
      ...(this.plan.slurmJob ? { slurmJob: this.plan.slurmJob } : {}),
      ...(this.plan.logFile ? { log: this.plan.logFile } : {}),
    };
  }

  private async complete(v: CohortVolume): Promise<boolean> {
    if (this.plan.command === "embed") return (await embedDone(this.store, v.id)) !== undefined;
    return existsSync(this.results!.result(v.id));
  }

  private leasePath(v: CohortVolume): string {
    return this.plan.command === "embed" ? this.store.lease(v.id) : this.results!.lease(v.id);
  }

  async run(): Promise<WorkerSummary> {
    const p = this.plan;
    const resolved = await resolveModel(p.model, { verifyChecksums: false, ...(p.precision ? { precision: p.precision } : {}) });
    const identity = modelIdentityOf(resolved);
    await mkdir(this.store.root, { recursive: true });
    await claimIdentity(this.store.identityFile, storeIdentity(identity, p.embed), "store");
    if (this.results) {
      await mkdir(this.results.root, { recursive: true });
      await claimIdentity(this.results.identityFile, resultsIdentity(identity, p.embed, p.protocol!), "results folder");
    }
    const done: string[] = [];
    const failed: { id: string; error: string }[] = [];
    const held = new Map<string, string>();
    const remaining = [...p.volumes];
    try {
      for (;;) {
        let worked = false;
        for (const v of [...remaining]) {
          if (await this.complete(v)) {
            remaining.splice(remaining.indexOf(v), 1);
            held.delete(v.id);
            continue;
          }
          await mkdir(this.store.volumeDir(v.id), { recursive: true });
          if (this.results) await mkdir(this.results.volumeDir(v.id), { recursive: true });
          const got = await Lease.acquire(this.leasePath(v), this.leaseInfo(p.command), {
            slurmQueue: this.liveJobs,
            onTakeover: (prev, why) => p.log(`${v.id}: took over from ${prev.task} on ${prev.host} (${why})`),
          });
          if ("heldBy" in got) {
            held.set(v.id, `${got.heldBy.task} on ${got.heldBy.host}`);
            continue;
          }
          remaining.splice(remaining.indexOf(v), 1);
          held.delete(v.id);
          worked = true;
          try {
            if (await this.complete(v)) continue; // finished by another task just before we took the lease
            await this.work(v, got.lease);
            done.push(v.id);
          } catch (err) {
            if (this.stop.signal.aborted) throw err;
            const message = err instanceof Error ? err.message : String(err);
            p.log(`${v.id}: FAILED: ${message}`);
            failed.push({ id: v.id, error: message });
            await this.recordFailure(v.id, message);
          } finally {
            this.current = undefined;
            await got.lease.release();
          }
          break; // look at the whole list again: earlier volumes may have become free
        }
        if (!worked) break;
      }
    } finally {
      await this.model?.dispose();
      this.model = undefined;
    }
    for (const [id, by] of held) p.log(`${id}: left to ${by}, which holds it`);
    return { done, failed, heldElsewhere: [...held].map(([id, by]) => ({ id, by })) };
  }

  private async loadedModel(): Promise<SamModel> {
    if (!this.model) {
      const threads = { intraOpNumThreads: this.plan.threads, interOpNumThreads: 1 };
      this.model = await loadModel(this.plan.model, {
        ...(this.plan.precision ? { precision: this.plan.precision } : {}),
        ...(this.plan.device ? { device: this.plan.device } : {}),
        onNotice: (line) => this.plan.log(line),
        encoderSessionOptions: threads,
        decoderSessionOptions: threads,
      });
      this.plan.log(`model ${this.model.name} loaded (${this.plan.threads} thread${this.plan.threads === 1 ? "" : "s"}, encoder on ${this.model.devices.encoder})`);
    }
    return this.model;
  }

  private async work(v: CohortVolume, lease: Lease): Promise<void> {
    const p = this.plan;
    const failedPath = p.command === "embed" ? this.store.failed(v.id) : this.results!.failed(v.id);
    this.current = { id: v.id, leases: [lease], failedPath };
    // Only the lease holder writes in the lease's folder: a temporary file there is a stopped task's.
    await sweepTemporaries(dirname(lease.path));
    p.log(`${v.id}: ${p.command} (${v.image})`);
    const model = await this.loadedModel();
    const ctx = { model, store: this.store, settings: p.embed, signal: this.stop.signal, task: p.task, log: p.log };
    if (p.command === "embed") {
      await embedVolume(ctx, v, lease);
      return;
    }
    const image = await openVolume(v.image);
    const emb = await this.embeddingsFor(v, image, model);
    await lease.update({ phase: "evaluating", ...(emb.store ? { storeKey: basename(emb.store.dir) } : {}), depth: emb.depth });
    const labels = await openVolume(v.labels!);
    const t0 = performance.now();
    await evaluateVolume({ model, results: this.results!, protocol: p.protocol!, signal: this.stop.signal, log: p.log }, v, image, labels, emb, lease);
    await rm(this.results!.failed(v.id), { force: true });
    p.log(`${v.id}: evaluated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  /** The volume's embeddings, complete: from the store, or embedded now under the store's lease. */
  private async embeddingsFor(v: CohortVolume, image: Volume, model: SamModel): Promise<VolumeEmbeddings> {
    const ctx = { model, store: this.store, settings: this.plan.embed, signal: this.stop.signal, task: this.plan.task, log: this.plan.log };
    let waited = false;
    for (;;) {
      if (await embedDone(this.store, v.id)) return openEmbeddings(ctx, image, v.image);
      const got = await Lease.acquire(this.store.lease(v.id), this.leaseInfo("embed"), {
        slurmQueue: this.liveJobs,
        onTakeover: (prev, why) => this.plan.log(`${v.id}: took the store over from ${prev.task} on ${prev.host} (${why})`),
      });
      if ("lease" in got) {
        this.current!.leases.push(got.lease);
        try {
          return await embedVolume(ctx, v, got.lease, { volume: image });
        } finally {
          this.current!.leases.splice(this.current!.leases.indexOf(got.lease), 1);
          await got.lease.release();
        }
      }
      if (!waited) this.plan.log(`${v.id}: waiting for ${got.heldBy.task} on ${got.heldBy.host}, which is embedding it`);
      waited = true;
      await new Promise((r) => setTimeout(r, WAIT_FOR_EMBED_MS));
      if (this.stop.signal.aborted) throw new StoppedError(`${v.id}: stopped while waiting for its embeddings`);
    }
  }

  /** The failure record of the volume at work; its store key and depth tell status how far it got. */
  private failureRecord(id: string, error: string): FailedRecord {
    const known = this.current?.leases.map((l) => l.holder).find((h) => h.storeKey);
    return {
      id,
      command: this.plan.command,
      error,
      at: new Date().toISOString(),
      task: this.plan.task,
      host: hostname(),
      ...(this.plan.logFile ? { log: this.plan.logFile } : {}),
      ...(known?.storeKey ? { storeKey: known.storeKey } : {}),
      ...(known?.depth !== undefined ? { depth: known.depth } : {}),
    };
  }

  private async recordFailure(id: string, error: string): Promise<void> {
    const path = this.plan.command === "embed" ? this.store.failed(id) : this.results!.failed(id);
    await writeJsonAtomic(path, this.failureRecord(id, error));
  }

  /**
   * For a signal handler, before the process exits: stops the work, deletes temporary files,
   * records the volume as stopped (failed.json) and releases its leases. Synchronous: a
   * handler that awaited could be killed (SIGKILL follows SIGTERM after Slurm's KillWait).
   */
  stopSync(signal: string): void {
    this.stop.abort();
    removeInFlightSync();
    const c = this.current;
    if (!c) return;
    // The folders of the leases held, and the volume's embedding folder (VolumeEmbeddingStore's
    // own temporaries) when the store's lease is one of them.
    for (const lease of c.leases) sweepTemporariesSync(dirname(lease.path));
    const key = c.leases.find((l) => l.path === this.store.lease(c.id))?.holder.storeKey;
    if (key) sweepTemporariesSync(join(this.store.embeddings, key));
    const record = this.failureRecord(c.id, `stopped by ${signal} (scancel, a time limit, preemption or Ctrl-C); run the same command again to resume`);
    try {
      const tmp = temporaryName(c.failedPath);
      writeFileSync(tmp, `${JSON.stringify(record, null, 1)}\n`);
      renameSync(tmp, c.failedPath);
    } catch {
      // the record is a courtesy; the leases below matter more
    }
    for (const lease of c.leases) lease.releaseSync();
  }
}
