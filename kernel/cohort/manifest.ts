/**
 * A cohort manifest: the volumes of a dataset (NIfTI files or DICOM series folders), each with
 * an id and optionally a label map and a dataset name, as CSV or JSON.
 *
 *   id,image,labels,dataset                     {"dataset": "abdomen",
 *   ct-001,ct/001.nii.gz,labels/001.nii.gz,      "volumes": [{"id": "ct-001", "image": "ct/001.nii.gz",
 *   ct-002,dicom/002/,labels/002.nii.gz,         "labels": "labels/001.nii.gz"}, ...]}
 *
 * Paths are relative to the manifest's folder. `id` defaults to the image's file name without
 * extension, `dataset` to the manifest's file name (the paper averages over datasets).
 *
 * Checked before any work starts, and every problem is reported at once: a cluster job that
 * fails on volume 312 of 500 for a typo in line 313 wastes a queue wait and hours of work.
 * The position of a volume in the manifest is its index; Slurm array tasks count shards by it,
 * so the manifest's checksum goes with every submitted job and a task refuses an edited file.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { readVolumeHeader, type VolumeHeader } from "../io/volume-header.js";

export interface CohortVolume {
  readonly id: string;
  /** Absolute path of the NIfTI file or DICOM series (file or folder). */
  readonly image: string;
  /** Absolute path of the label map (same dims as the image), if any. */
  readonly labels?: string;
  readonly dataset: string;
  /** 0-based position in the manifest. */
  readonly index: number;
  /** Where the volume is listed, for messages: "line 4" (CSV) or "volumes[3]" (JSON). */
  readonly where: string;
}

export interface CohortManifest {
  /** Absolute path of the manifest file. */
  readonly path: string;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
  readonly volumes: readonly CohortVolume[];
}

export class ManifestError extends Error {
  override name = "ManifestError";
  constructor(
    readonly path: string,
    readonly problems: readonly string[],
  ) {
    super(`${path}: ${problems.length} problem${problems.length === 1 ? "" : "s"}, nothing was started:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const COLUMNS = ["id", "image", "labels", "dataset"] as const;
/** Ids become file names on a shared filesystem: letters, digits, '.', '_' and '-'. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const VOLUME_EXTENSIONS = [".nii.gz", ".nii", ".hdr.gz", ".hdr", ".img.gz", ".img", ".dcm"];

interface RawEntry {
  readonly where: string;
  readonly fields: Partial<Record<(typeof COLUMNS)[number], string>>;
}

/** RFC 4180 records: quoted fields may hold commas, quotes ("") and line breaks. */
function csvRecords(text: string): { line: number; cells: string[] }[] {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let touched = false;
  const endRecord = () => {
    cells.push(cell);
    if (touched || cells.length > 1 || cell !== "") records.push({ line: recordLine, cells });
    cells = [];
    cell = "";
    touched = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === "") {
      quoted = true;
      touched = true;
    } else if (c === ",") {
      cells.push(cell);
      cell = "";
      touched = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else cell += c;
  }
  if (quoted) throw new Error(`line ${recordLine}: a quoted field is not closed`);
  endRecord();
  return records;
}

function parseCsv(text: string, problems: string[]): RawEntry[] {
  let records: { line: number; cells: string[] }[];
  try {
    records = csvRecords(text).filter((r) => !(r.cells.length === 1 && r.cells[0]!.trim() === "") && !r.cells[0]!.trimStart().startsWith("#"));
  } catch (err) {
    problems.push((err as Error).message);
    return [];
  }
  const header = records.shift();
  if (!header) {
    problems.push("the file is empty; the first line names the columns: id,image,labels,dataset (image required)");
    return [];
  }
  const names = header.cells.map((c) => c.trim().toLowerCase());
  const unknown = names.filter((n) => !(COLUMNS as readonly string[]).includes(n));
  if (unknown.length) problems.push(`line ${header.line}: unknown column${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `'${u}'`).join(", ")} (the columns are ${COLUMNS.join(", ")})`);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) problems.push(`line ${header.line}: column${twice.length > 1 ? "s" : ""} ${[...new Set(twice)].join(", ")} named twice`);
  if (!names.includes("image")) {
    problems.push(`line ${header.line}: no 'image' column; the first line names the columns, e.g. id,image,labels`);
    return [];
  }
  return records.map((r) => {
    if (r.cells.length !== names.length) problems.push(`line ${r.line}: ${r.cells.length} fields, the header has ${names.length}`);
    const fields: RawEntry["fields"] = {};
    names.forEach((n, i) => {
      const v = r.cells[i]?.trim();
      if (v && (COLUMNS as readonly string[]).includes(n)) fields[n as (typeof COLUMNS)[number]] = v;
    });
    return { where: `line ${r.line}`, fields };
  });
}

function parseJson(text: string, problems: string[]): { entries: RawEntry[]; dataset?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    problems.push(`not valid JSON (${(err as Error).message})`);
    return { entries: [] };
  }
  const top = Array.isArray(raw) ? { volumes: raw } : (raw as { volumes?: unknown; dataset?: unknown });
  if (!top || typeof top !== "object" || !Array.isArray(top.volumes)) {
    problems.push(`a JSON manifest is {"volumes": [{"id": ..., "image": ..., "labels": ...}, ...]} or that array alone`);
    return { entries: [] };
  }
  let dataset: string | undefined;
  if (top.dataset !== undefined) {
    if (typeof top.dataset === "string" && top.dataset.trim()) dataset = top.dataset.trim();
    else problems.push(`"dataset" must be a non-empty string`);
  }
  const entries = top.volumes.map((v: unknown, i: number): RawEntry => {
    const where = `volumes[${i}]`;
    const fields: RawEntry["fields"] = {};
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      problems.push(`${where}: an object with "image" (and "id", "labels", "dataset") expected`);
      return { where, fields };
    }
    for (const [k, value] of Object.entries(v as Record<string, unknown>)) {
      if (!(COLUMNS as readonly string[]).includes(k)) {
        problems.push(`${where}: unknown key '${k}' (the keys are ${COLUMNS.join(", ")})`);
        continue;
      }
      if (typeof value !== "string") problems.push(`${where}: "${k}" must be a string`);
      else if (value.trim()) fields[k as (typeof COLUMNS)[number]] = value.trim();
    }
    return { where, fields };
  });
  return { entries, ...(dataset ? { dataset } : {}) };
}

/** "ct/001.nii.gz" -> "001"; a DICOM folder "dicom/002/" -> "002". */
function defaultId(image: string): string {
  const name = basename(image.replace(/[/\\]+$/, ""));
  const ext = VOLUME_EXTENSIONS.find((e) => name.toLowerCase().endsWith(e));
  return ext ? name.slice(0, -ext.length) : extname(name) ? name.slice(0, -extname(name).length) : name;
}

/** The manifest's content and every problem with it (format, columns, ids, repeated images). */
function parseContent(path: string): { manifest: CohortManifest; problems: string[] } {
  const abs = resolve(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (err) {
    throw new ManifestError(abs, [`cannot read the manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  const text = bytes.toString("utf8").replace(/^\uFEFF/, "");
  const problems: string[] = [];
  const isJson = abs.toLowerCase().endsWith(".json") || /^\s*[[{]/.test(text);
  const parsed = isJson ? parseJson(text, problems) : { entries: parseCsv(text, problems) };
  const folder = dirname(abs);
  const fallbackDataset = parsed.dataset ?? defaultId(abs);
  const volumes: CohortVolume[] = [];
  const ids = new Map<string, string>();
  const images = new Map<string, string>();
  parsed.entries.forEach((e, index) => {
    const { image, labels, dataset } = e.fields;
    if (!image) {
      problems.push(`${e.where}: no image`);
      return;
    }
    const id = e.fields.id ?? defaultId(image);
    if (!ID_PATTERN.test(id)) {
      problems.push(
        `${e.where}: id '${id}'${e.fields.id ? "" : " (from the file name)"} is not usable as a file name: ` +
          "1-100 letters, digits, '.', '_' or '-', not starting with '.', '_' or '-'",
      );
    }
    const seen = ids.get(id);
    if (seen) problems.push(`${e.where}: id '${id}' is already used in ${seen}`);
    else ids.set(id, e.where);
    const imagePath = resolve(folder, image);
    const sameImage = images.get(imagePath);
    if (sameImage) problems.push(`${e.where}: image ${image} is already listed in ${sameImage}`);
    else images.set(imagePath, e.where);
    volumes.push({
      id,
      image: imagePath,
      ...(labels ? { labels: resolve(folder, labels) } : {}),
      dataset: dataset ?? fallbackDataset,
      index,
      where: e.where,
    });
  });
  if (!problems.length && volumes.length === 0) problems.push("no volumes listed");
  return { manifest: { path: abs, sha256: createHash("sha256").update(bytes).digest("hex"), volumes }, problems };
}

/**
 * Reads and checks the manifest's own content: format, columns, ids (safe for file names,
 * unique), one image per volume. Files are not touched; `readCohortManifest` checks them too.
 */
export function parseCohortManifest(path: string): CohortManifest {
  const { manifest, problems } = parseContent(path);
  if (problems.length) throw new ManifestError(manifest.path, problems);
  return manifest;
}

export interface CheckFilesOptions {
  /** Every volume needs a label map (evaluate); default false. */
  readonly requireLabels?: boolean;
}

/**
 * Every file problem of the manifest, all at once: missing images and label maps, headers
 * that cannot be read, label maps whose dims differ from their image's. Headers only.
 */
export async function cohortFileProblems(manifest: CohortManifest, options: CheckFilesOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const header = async (v: CohortVolume, path: string, what: string): Promise<VolumeHeader | undefined> => {
    try {
      return await readVolumeHeader(path);
    } catch (err) {
      const message = (err as Error).message;
      problems.push(`${v.where} (${v.id}): ${what}: ${message.startsWith(path) ? message : `${path}: ${message}`}`);
      return undefined;
    }
  };
  for (const v of manifest.volumes) {
    const image = await header(v, v.image, "image");
    if (!v.labels) {
      if (options.requireLabels) problems.push(`${v.where} (${v.id}): no label map; evaluate needs one per volume (the 'labels' column)`);
      continue;
    }
    const labels = await header(v, v.labels, "labels");
    if (image && labels && image.dims.join() !== labels.dims.join()) {
      problems.push(`${v.where} (${v.id}): the label map is ${labels.dims.join("x")} voxels but the image is ${image.dims.join("x")}`);
    }
  }
  return problems;
}

/** Parse and check a manifest and its files; one ManifestError lists every problem found. */
export async function readCohortManifest(path: string, options: CheckFilesOptions = {}): Promise<CohortManifest> {
  const { manifest, problems } = parseContent(path);
  problems.push(...(await cohortFileProblems(manifest, options)));
  if (problems.length) throw new ManifestError(manifest.path, problems);
  return manifest;
}
