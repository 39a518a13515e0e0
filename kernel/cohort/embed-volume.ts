/**
 * One volume's embeddings into the cohort store: every slice of the view, through
 * VolumeEmbeddings and its on-disk store (cache/volume-embeddings.ts, cache/disk-store.ts),
 * which writes each slice atomically and finds the slices a killed task already wrote. The
 * caller holds the volume's store lease.
 */
import { readdir, rm } from "node:fs/promises";
import { basename } from "node:path";
import { VolumeEmbeddings, type Embedder } from "../cache/volume-embeddings.js";
import { openVolume } from "../io/volume-open.js";
import type { Volume } from "../io/volume.js";
import { sweepTemporaries, writeJsonAtomic } from "./atomic.js";
import type { StoreLayout, EmbedDone } from "./layout.js";
import type { Lease } from "./lease.js";
import type { CohortVolume } from "./manifest.js";
import type { EmbedSettings } from "./settings.js";

/** Slices of an evaluation kept in memory besides the store (4 MiB each). */
const MEMORY_BYTES = 256 * 2 ** 20;
/** A progress line at most this often. */
const PROGRESS_EVERY_MS = 15_000;

export class StoppedError extends Error {
  override name = "StoppedError";
}

export interface EmbedContext {
  readonly model: Embedder;
  readonly store: StoreLayout;
  readonly settings: EmbedSettings;
  readonly signal: AbortSignal;
  readonly task: string;
  readonly log: (line: string) => void;
}

/** A volume's embeddings, opened on the cohort store (nothing computed yet). */
export async function openEmbeddings(ctx: Pick<EmbedContext, "model" | "store" | "settings">, volume: Volume, path: string): Promise<VolumeEmbeddings> {
  if (volume.channels !== 1) throw new Error(`${path}: ${volume.channels} values per voxel; cohorts take scalar volumes.`);
  return VolumeEmbeddings.open(volume, ctx.model, {
    view: ctx.settings.view,
    intensity: ctx.settings.intensity,
    storeRoot: ctx.store.embeddings,
    memoryBytes: MEMORY_BYTES,
  });
}

/** Chunk files present for a store key: how far a volume's embedding got. */
export async function storedSlices(store: StoreLayout, key: string): Promise<number> {
  try {
    return (await readdir(store.slices(key))).filter((f) => /^\d+\.f16$/.test(f)).length;
  } catch {
    return 0;
  }
}

/**
 * Embeds every slice not yet stored and writes the volume's done record. Returns the opened
 * embeddings (an evaluation goes on with them). Throws StoppedError when `signal` aborts.
 */
export async function embedVolume(ctx: EmbedContext, v: CohortVolume, lease: Lease, opened?: { volume: Volume }): Promise<VolumeEmbeddings> {
  const t0 = performance.now();
  const volume = opened?.volume ?? (await openVolume(v.image));
  const emb = await openEmbeddings(ctx, volume, v.image);
  const store = emb.store!;
  const key = basename(store.dir);
  await lease.update({ storeKey: key, depth: emb.depth, phase: "embedding" });
  // Only the lease holder writes here: a temporary file is what a killed task left behind.
  const swept = [...(await sweepTemporaries(store.dir)), ...(await sweepTemporaries(ctx.store.volumeDir(v.id)))];
  if (swept.length) ctx.log(`${v.id}: removed ${swept.length} temporary file(s) a stopped task left`);
  ctx.log(`${v.id}: ${emb.depth} ${ctx.settings.view} slices, ${store.count} already in the store`);
  let last = performance.now();
  const progress = await emb.precompute({
    signal: ctx.signal,
    onProgress: (p) => {
      const now = performance.now();
      if (p.finished || p.interrupted || now - last < PROGRESS_EVERY_MS) return;
      last = now;
      ctx.log(`${v.id}: ${p.done}/${p.total} slices, ${p.rate.toFixed(2)} slices/s`);
    },
  });
  if (progress.interrupted || ctx.signal.aborted) throw new StoppedError(`${v.id}: stopped at ${progress.done}/${progress.total} slices`);
  const seconds = (performance.now() - t0) / 1000;
  const done: EmbedDone = {
    id: v.id,
    image: v.image,
    key,
    depth: emb.depth,
    finished: new Date().toISOString(),
    computed: progress.computed,
    fromStore: progress.fromStore,
    seconds,
    task: ctx.task,
  };
  await writeJsonAtomic(ctx.store.done(v.id), done);
  await rm(ctx.store.failed(v.id), { force: true });
  const rate = progress.computed > 0 ? `, ${(progress.computed / seconds).toFixed(2)} slices/s` : "";
  ctx.log(`${v.id}: embedded (${progress.computed} computed, ${progress.fromStore} from the store) in ${seconds.toFixed(1)} s${rate}`);
  return emb;
}
