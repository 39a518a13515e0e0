/**
 * Where a cohort's files live. The store holds embeddings, the results folder the protocol's
 * numbers; both can sit on a shared filesystem that every node of the cluster mounts.
 *
 *   STORE/cohort-store.json                  model and embedding settings (written once)
 *   STORE/embeddings/<key>/...               the volume stores of cache/disk-store.ts
 *   STORE/volumes/<id>/done.json             the volume is embedded (its key and depth)
 *   STORE/volumes/<id>/lease.json            a task is embedding it (lease.ts)
 *   STORE/volumes/<id>/failed.json           the last attempt failed (why, where)
 *   STORE/logs/, STORE/slurm/                per-task logs; submitted batch scripts
 *
 *   RESULTS/cohort-results.json              model, embedding and protocol settings (written once)
 *   RESULTS/volumes/<id>/result.json         the volume's protocol results
 *   RESULTS/volumes/<id>/lease.json, failed.json
 *   RESULTS/logs/, RESULTS/slurm/
 *
 * Every file a task writes is under its volume's folder, which only the lease holder writes,
 * except the two identity files, which are created exclusively and then only read.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { canonical } from "../cache/disk-store.js";
import { formatVolumeIntensity, type EmbedSettings, type ProtocolSettings } from "./settings.js";
import { createExclusive } from "./lease.js";

export const STORE_FORMAT = "medicosam-cohort-store/1";
export const RESULTS_FORMAT = "medicosam-cohort-results/1";

class VolumeFolders {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }
  volumeDir(id: string): string {
    return join(this.root, "volumes", id);
  }
  lease(id: string): string {
    return join(this.volumeDir(id), "lease.json");
  }
  failed(id: string): string {
    return join(this.volumeDir(id), "failed.json");
  }
  get logs(): string {
    return join(this.root, "logs");
  }
  get slurm(): string {
    return join(this.root, "slurm");
  }
}

export class StoreLayout extends VolumeFolders {
  get identityFile(): string {
    return join(this.root, "cohort-store.json");
  }
  /** The root VolumeEmbeddings stores under. */
  get embeddings(): string {
    return join(this.root, "embeddings");
  }
  done(id: string): string {
    return join(this.volumeDir(id), "done.json");
  }
  slices(key: string): string {
    return join(this.embeddings, key, "slices");
  }
}

export class ResultsLayout extends VolumeFolders {
  get identityFile(): string {
    return join(this.root, "cohort-results.json");
  }
  result(id: string): string {
    return join(this.volumeDir(id), "result.json");
  }
}

export interface ModelIdentity {
  readonly name: string;
  readonly identity: string;
}

export interface StoreIdentity {
  readonly format: string;
  readonly model: ModelIdentity;
  readonly view: EmbedSettings["view"];
  readonly intensity: EmbedSettings["intensity"];
}

export interface ResultsIdentity extends Omit<StoreIdentity, "format"> {
  readonly format: string;
  readonly protocol: ProtocolSettings;
}

/** The record of a finished embedding (STORE/volumes/<id>/done.json). */
export interface EmbedDone {
  readonly id: string;
  readonly image: string;
  readonly key: string;
  readonly depth: number;
  readonly finished: string;
  /** Slices the encoder computed in the finishing run, and those found already stored. */
  readonly computed: number;
  readonly fromStore: number;
  readonly seconds: number;
  readonly task: string;
}

/** The record of a failed attempt (volumes/<id>/failed.json). */
export interface FailedRecord {
  readonly id: string;
  readonly command: "embed" | "evaluate";
  readonly error: string;
  readonly at: string;
  readonly task: string;
  readonly host: string;
  readonly log?: string;
  readonly storeKey?: string;
  readonly depth?: number;
}

export function storeIdentity(model: ModelIdentity, embed: EmbedSettings): StoreIdentity {
  return { format: STORE_FORMAT, model, view: embed.view, intensity: embed.intensity };
}

export function resultsIdentity(model: ModelIdentity, embed: EmbedSettings, protocol: ProtocolSettings): ResultsIdentity {
  return { format: RESULTS_FORMAT, model, view: embed.view, intensity: embed.intensity, protocol };
}

function describe(id: StoreIdentity | ResultsIdentity): string {
  const base = `model ${id.model.name} (${id.model.identity.slice(0, 19)}), ${id.view}, intensity ${formatVolumeIntensity(id.intensity)}`;
  return "protocol" in id ? `${base}, protocol ${canonical(id.protocol)}` : base;
}

/**
 * Writes the folder's identity file if there is none; otherwise checks that it says the same.
 * A store made for one model or setting is never filled with another's embeddings.
 */
export async function claimIdentity<T extends StoreIdentity | ResultsIdentity>(file: string, identity: T, folderKind: "store" | "results folder"): Promise<void> {
  if (await createExclusive(file, `${JSON.stringify(identity, null, 1)}\n`)) return;
  const existing = await readIdentity<T>(file);
  if (canonical(existing) !== canonical(identity)) {
    throw new Error(
      `${file}: this ${folderKind} holds ${describe(existing)}; this run asks for ${describe(identity)}. ` +
        `Use another ${folderKind === "store" ? "--store" : "--out"} folder for another model or setting.`,
    );
  }
}

export async function readIdentity<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, "utf8")) as T;
}
