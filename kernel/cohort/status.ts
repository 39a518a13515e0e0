/**
 * Where a cohort stands, per volume: done / running / failed / missing, for the embedding
 * (the store) and the evaluation (the results folder), read from the files the tasks leave:
 * done records and results, leases (running while their holder lives; lease.ts says when it
 * does not), failure records. Slice progress is counted from the store's chunk files.
 *
 * Nothing is asked of Slurm except `squeue`'s list of live jobs, to tell a task that died
 * on another node from one still running; without squeue, leases age out after 10 minutes.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { DISPLAY, type MimeBundle } from "../display/plotly.js";
import { tableBundle } from "../display/figures-protocol.js";
import { storedSlices } from "./embed-volume.js";
import { ResultsLayout, StoreLayout, type EmbedDone, type FailedRecord } from "./layout.js";
import { readLease, staleReason } from "./lease.js";
import { parseCohortManifest, type CohortManifest } from "./manifest.js";
import { slurmQueue } from "./slurm.js";

export type VolumeState = "done" | "running" | "failed" | "missing";

export interface StageStatus {
  readonly state: VolumeState;
  /** Who runs it, why it failed, ... */
  readonly detail: string;
}

export interface VolumeStatus {
  readonly id: string;
  readonly dataset: string;
  readonly embed: StageStatus;
  /** Slices in the store, and the volume's depth once a task has opened it. */
  readonly slices: { readonly stored: number; readonly depth?: number };
  readonly evaluate?: StageStatus;
}

const STATES: readonly VolumeState[] = ["done", "running", "failed", "missing"];

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** A stage's state from its folder's files; `complete` says whether the stage's output is whole. */
async function stage(
  dir: StoreLayout | ResultsLayout,
  id: string,
  complete: boolean,
  queue: ReadonlySet<string> | undefined,
): Promise<StageStatus & { storeKey?: string; depth?: number }> {
  if (complete) return { state: "done", detail: "" };
  const lease = await readLease(dir.lease(id));
  if (lease) {
    const why = staleReason(lease.info, lease.heartbeatMs, Date.now(), queue);
    const where = `${lease.info.task} on ${lease.info.host}`;
    const keys = { ...(lease.info.storeKey ? { storeKey: lease.info.storeKey } : {}), ...(lease.info.depth !== undefined ? { depth: lease.info.depth } : {}) };
    if (!why) return { state: "running", detail: `${where}${lease.info.phase ? `, ${lease.info.phase}` : ""}`, ...keys };
    return { state: "failed", detail: `${where} stopped: ${why}`, ...keys };
  }
  const failed = await readJson<FailedRecord>(dir.failed(id));
  if (failed) {
    return {
      state: "failed",
      detail: `${failed.error} (${failed.task} on ${failed.host}, ${failed.at}${failed.log ? `; log ${failed.log}` : ""})`,
      ...(failed.storeKey ? { storeKey: failed.storeKey } : {}),
      ...(failed.depth !== undefined ? { depth: failed.depth } : {}),
    };
  }
  return { state: "missing", detail: "" };
}

export class CohortStatus {
  constructor(
    readonly manifest: string,
    readonly volumes: readonly VolumeStatus[],
    readonly evaluated: boolean,
  ) {}

  /** How many volumes are in each state, per stage. */
  counts(which: "embed" | "evaluate" = "embed"): Record<VolumeState, number> {
    const out = { done: 0, running: 0, failed: 0, missing: 0 };
    for (const v of this.volumes) {
      const s = which === "embed" ? v.embed : v.evaluate;
      if (s) out[s.state]++;
    }
    return out;
  }

  /** Slices stored over slices known (volumes not opened yet count as unknown). */
  slices(): { stored: number; known: number; unknownVolumes: number } {
    let stored = 0;
    let known = 0;
    let unknownVolumes = 0;
    for (const v of this.volumes) {
      if (v.slices.depth === undefined) unknownVolumes++;
      else {
        stored += v.slices.stored;
        known += v.slices.depth;
      }
    }
    return { stored, known, unknownVolumes };
  }

  /** One line per stage: "embedding: 3/4 done, 1 running; slices 112/160 (70 %)". */
  summary(): string[] {
    const line = (name: string, c: Record<VolumeState, number>) =>
      `${name}: ${c.done}/${this.volumes.length} done` + STATES.slice(1).filter((s) => c[s] > 0).map((s) => `, ${c[s]} ${s}`).join("");
    const s = this.slices();
    const sliceText = s.known > 0 ? `; slices ${s.stored}/${s.known} (${bar(s.stored / s.known)} ${Math.floor((100 * s.stored) / s.known)} %)${s.unknownVolumes ? `, ${s.unknownVolumes} volume(s) not opened yet` : ""}` : "";
    const lines = [`${line("embedding", this.counts("embed"))}${sliceText}`];
    if (this.evaluated) lines.push(line("evaluation", this.counts("evaluate")));
    return lines;
  }

  /** True when every volume is done in every stage asked about. */
  get complete(): boolean {
    return this.volumes.every((v) => (this.evaluated ? v.evaluate?.state === "done" : v.embed.state === "done"));
  }

  rows(): Record<string, string>[] {
    return this.volumes.map((v) => ({
      id: v.id,
      dataset: v.dataset,
      embedding: v.embed.state,
      slices: v.slices.depth !== undefined ? `${v.slices.stored}/${v.slices.depth} ${bar(v.slices.stored / v.slices.depth)}` : v.slices.stored ? String(v.slices.stored) : "",
      ...(this.evaluated ? { evaluation: v.evaluate!.state } : {}),
      detail: [v.embed.detail, v.evaluate?.detail].filter((d) => d).join("; "),
    }));
  }

  toString(): string {
    return [...this.summary(), tableBundle(this.rows()).text].join("\n");
  }

  [DISPLAY](): MimeBundle {
    const table = tableBundle(this.rows(), this.summary().join(" · "));
    return { "text/plain": this.toString(), "text/html": table.html };
  }
}

/** A 10-character bar: "██████░░░░". */
function bar(fraction: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * 10);
  return "█".repeat(full) + "░".repeat(10 - full);
}

export interface StatusOptions {
  readonly store: string;
  /** The results folder, to report the evaluation too. */
  readonly out?: string;
}

/** The cohort's progress per volume (a table in a notebook, with a summary line). */
export async function cohortStatus(manifest: string | CohortManifest, options: StatusOptions): Promise<CohortStatus> {
  const m = typeof manifest === "string" ? parseCohortManifest(manifest) : manifest;
  const store = new StoreLayout(options.store);
  const results = options.out ? new ResultsLayout(options.out) : undefined;
  const queue = await slurmQueue();
  const volumes: VolumeStatus[] = [];
  for (const v of m.volumes) {
    const done = await readJson<EmbedDone>(store.done(v.id));
    const stored = done ? await storedSlices(store, done.key) : 0;
    const embed = await stage(store, v.id, done !== undefined && stored >= done.depth, queue);
    const evaluate = results ? await stage(results, v.id, existsSync(results.result(v.id)), queue) : undefined;
    const key = done?.key ?? embed.storeKey ?? evaluate?.storeKey;
    const depth = done?.depth ?? embed.depth ?? evaluate?.depth;
    const slices = { stored: key ? (key === done?.key ? stored : await storedSlices(store, key)) : 0, ...(depth !== undefined ? { depth } : {}) };
    volumes.push({
      id: v.id,
      dataset: v.dataset,
      embed: { state: embed.state, detail: embed.detail },
      slices,
      ...(evaluate ? { evaluate: { state: evaluate.state, detail: evaluate.detail } } : {}),
    });
  }
  return new CohortStatus(m.path, volumes, results !== undefined);
}
