/**
 * Model names -> model folders. `loadModel("medicosam")` looks in the package's `models/`
 * folder, then in the user's model cache (where models/export writes by default), and when the
 * model is in neither, fails with the exact command that exports it — the weights are not
 * shipped (360 MB, other people's licences), so the user's first contact with a missing model
 * must say how to get it.
 *
 * The registry itself is models/registry.json, shared with the Python exporter so that URLs
 * and checksums live in one place.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { packageRoot } from "../package-root.js";

export interface RegistryCheckpoint {
  /** Download address; null when the file must be fetched by hand (see `manual`). */
  readonly url: string | null;
  readonly file: string;
  /** xxh128 as micro_sam's registry publishes it; null when nobody publishes one. */
  readonly xxh128: string | null;
  readonly sha256?: string;
  readonly manual?: string;
  /** micro_sam's name for the same file (its cache is reused by the exporter). */
  readonly microSamModelType?: string;
}

export interface RegistryEntry {
  readonly name: string;
  readonly title: string;
  readonly aliases: readonly string[];
  /** Folder name under models/ or the cache; default the name. */
  readonly folder: string;
  /** Shipped with the package (models/<folder>); never exported. */
  readonly shipped: boolean;
  readonly architecture?: string;
  readonly homepage?: string;
  readonly licence?: string;
  readonly checkpoint?: RegistryCheckpoint;
  readonly notice?: string;
}

export interface ModelRegistry {
  readonly path: string;
  readonly entries: readonly RegistryEntry[];
}

export class RegistryError extends Error {
  override name = "RegistryError";
}

/** A registry name whose folder is not there yet; the message holds the command that makes it. */
export class ModelNotFoundError extends Error {
  override name = "ModelNotFoundError";
  constructor(
    message: string,
    readonly entry: RegistryEntry,
    readonly searched: readonly string[],
  ) {
    super(message);
  }
}

export function defaultRegistryPath(): string {
  return join(packageRoot(), "models", "registry.json");
}

/**
 * Where exported models live outside the package: $MEDICOSAM_MODELS_DIR, else
 * $XDG_CACHE_HOME/medicosam/models, else ~/.cache/medicosam/models (%LOCALAPPDATA% on
 * Windows). models/export/registry.py computes the same folder; a test keeps them equal.
 */
export function modelsCacheDir(env: NodeJS.ProcessEnv = process.env, home = homedir(), platform = process.platform): string {
  if (env.MEDICOSAM_MODELS_DIR) return resolve(env.MEDICOSAM_MODELS_DIR);
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "medicosam", "models");
  if (platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "medicosam", "models");
  return join(home, ".cache", "medicosam", "models");
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function parseEntry(path: string, name: string, raw: unknown): RegistryEntry {
  const where = `${path}: model '${name}'`;
  if (typeof raw !== "object" || raw === null) throw new RegistryError(`${where} is not an object.`);
  const r = raw as Record<string, unknown>;
  const title = str(r.title);
  if (!title) throw new RegistryError(`${where} has no 'title'.`);
  const aliases = r.aliases ?? [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== "string")) {
    throw new RegistryError(`${where}: 'aliases' must be a list of strings.`);
  }
  const shipped = r.shipped === true;
  let checkpoint: RegistryCheckpoint | undefined;
  if (r.checkpoint !== undefined) {
    const c = r.checkpoint as Record<string, unknown>;
    const file = str(c.file);
    if (!file) throw new RegistryError(`${where}: 'checkpoint.file' is missing.`);
    const url = c.url === null ? null : str(c.url);
    if (url === undefined) throw new RegistryError(`${where}: 'checkpoint.url' must be a string or null (manual download).`);
    const xxh = c.xxh128 === null || c.xxh128 === undefined ? null : str(c.xxh128);
    if (xxh !== null && (xxh === undefined || !/^[0-9a-f]{32}$/.test(xxh))) {
      throw new RegistryError(`${where}: 'checkpoint.xxh128' must be 32 lowercase hex digits or null.`);
    }
    const sha = str(c.sha256);
    if (c.sha256 !== undefined && (!sha || !/^[0-9a-f]{64}$/.test(sha))) {
      throw new RegistryError(`${where}: 'checkpoint.sha256' must be 64 lowercase hex digits.`);
    }
    if (url === null && !str(c.manual)) {
      throw new RegistryError(`${where}: a checkpoint without a url needs 'manual' (how to get the file).`);
    }
    if (url !== null && xxh === null && !sha) {
      throw new RegistryError(`${where}: a downloadable checkpoint needs a checksum (xxh128 or sha256); downloads are never trusted unchecked.`);
    }
    checkpoint = { url, file, xxh128: xxh, sha256: sha, manual: str(c.manual), microSamModelType: str(c.microSamModelType) };
  }
  if (!shipped && !checkpoint) {
    throw new RegistryError(`${where} is neither shipped nor has a 'checkpoint' to export from.`);
  }
  return {
    name,
    title,
    aliases: aliases as string[],
    folder: str(r.folder) ?? name,
    shipped,
    architecture: str(r.architecture),
    homepage: str(r.homepage),
    licence: str(r.licence),
    checkpoint,
    notice: str(r.notice),
  };
}

export function loadRegistry(path = defaultRegistryPath()): ModelRegistry {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new RegistryError(`cannot read the model registry ${path}: ${(err as Error).message}`);
  }
  const models = (raw as { models?: unknown }).models;
  if (typeof models !== "object" || models === null) throw new RegistryError(`${path}: no 'models' object.`);
  const entries = Object.entries(models).map(([name, e]) => parseEntry(path, name, e));
  const seen = new Map<string, string>();
  for (const e of entries) {
    for (const key of [e.name, ...e.aliases].map((k) => k.toLowerCase())) {
      const other = seen.get(key);
      if (other) throw new RegistryError(`${path}: the name '${key}' is used by both '${other}' and '${e.name}'.`);
      seen.set(key, e.name);
    }
  }
  return { path, entries };
}

/** The entry for a name or alias (case-insensitive), or undefined. */
export function lookupModel(registry: ModelRegistry, name: string): RegistryEntry | undefined {
  const key = name.toLowerCase();
  return registry.entries.find((e) => e.name.toLowerCase() === key || e.aliases.some((a) => a.toLowerCase() === key));
}

function quote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/** The shell command that exports a registry model into `outDir`. */
export function exportCommand(entry: RegistryEntry, outDir: string, root = packageRoot()): string {
  const script = quote(join(root, "models", "export", "export_sam.py"));
  const checkpoint = entry.checkpoint?.url === null ? ` --checkpoint /path/to/${entry.checkpoint.file}` : "";
  return `python ${script} ${entry.name}${checkpoint} --out ${quote(outDir)}`;
}

function isModelFolder(dir: string): boolean {
  return existsSync(join(dir, "model.json")) && statSync(dir).isDirectory();
}

export interface FindOptions {
  readonly registry?: ModelRegistry;
  /** The package's models/ folder (default <package root>/models). */
  readonly projectModels?: string;
  readonly cacheDir?: string;
}

/**
 * The folder of a registry model: models/<folder> in the package, then <cache>/<folder>.
 * Throws ModelNotFoundError (with the export command) when the name is known but not there,
 * and RegistryError listing the known names when it is not a registry name at all.
 */
export function findModelFolder(name: string, options: FindOptions = {}): string {
  const registry = options.registry ?? loadRegistry();
  const entry = lookupModel(registry, name);
  if (!entry) {
    const known = registry.entries.map((e) => e.name).join(", ");
    throw new RegistryError(`'${name}' is neither a model folder nor a known model name (known: ${known}).`);
  }
  const projectModels = options.projectModels ?? join(packageRoot(), "models");
  const cacheDir = options.cacheDir ?? modelsCacheDir();
  const candidates = entry.shipped ? [join(projectModels, entry.folder)] : [join(projectModels, entry.folder), join(cacheDir, entry.folder)];
  for (const dir of candidates) if (existsSync(dir) && isModelFolder(dir)) return dir;

  const searched = candidates.join(" and ");
  if (entry.shipped) {
    throw new ModelNotFoundError(
      `model '${entry.name}' should ship with the package in ${candidates[0]}, but that folder has no model.json. ` +
        "Restore it from the repository (git checkout / reinstall the package).",
      entry,
      candidates,
    );
  }
  const out = join(cacheDir, entry.folder);
  const manual = entry.checkpoint?.url === null ? `\nFirst download the checkpoint by hand: ${entry.checkpoint.manual}` : "";
  throw new ModelNotFoundError(
    `model '${entry.name}' (${entry.title}) is not exported yet (looked in ${searched}).${manual}\n` +
      `Export it once, in the conda environment of environment.yml (conda env create -f environment.yml; conda activate medicosam):\n` +
      `  ${exportCommand(entry, out)}\n` +
      `See README, "Use MedicoSAM".`,
    entry,
    candidates,
  );
}

/**
 * For model-files.ts: a string that names no existing path and looks like a bare name
 * (no path separator) is resolved through the registry; anything else is a path.
 */
export function looksLikeModelName(source: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source) && !existsSync(source);
}
