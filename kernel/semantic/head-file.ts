/**
 * A trained head on disk: one small JSON file (a conv head of 9 classes is about 100 kB), meant to
 * sit next to the label map it was trained from.
 *
 *   {
 *     "format": "medicosam-semantic-head", "version": 1,
 *     "kind": "conv" | "linear", "hidden": 16, "channels": 256,
 *     "model": { "name": "demo" },                 // the encoder whose features it reads
 *     "classes": [0, 1, 2], "classNames": ["background", "liver", "spleen"],
 *     "featureMean": "<base64 float32 x256>", "featureStd": "<base64 float32 x256>",
 *     "tensors": { "w1": { "shape": [16, 256], "data": "<base64 float32, little-endian>" }, ... },
 *     "sha256": "<hex of featureMean, featureStd, then every tensor's bytes in the order of 'tensors'>",
 *     "training": { ...the training report, without its history }
 *   }
 *
 * `loadSemanticHead` refuses a file whose format, version, shapes or checksum do not match, naming
 * what is wrong; a head for another model is refused when it is used (SemanticHead.predict).
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { EMBEDDING_CHANNELS } from "../sam/embedding.js";
import { HEAD_KINDS, paramShapes, type HeadKind, type HeadParams } from "./heads.js";
import { SemanticHead } from "./head.js";
import type { TrainingReport } from "./train.js";

export const HEAD_FORMAT = "medicosam-semantic-head";
export const HEAD_FORMAT_VERSION = 1;

function toBase64(a: Float32Array): string {
  const le = new Float32Array(a); // copy: a Buffer view needs its own aligned storage
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString("base64");
}

function fromBase64(text: unknown, length: number, what: string, path: string): Float32Array {
  if (typeof text !== "string") throw new Error(`${path}: ${what} is not a base64 string`);
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== length * 4) throw new Error(`${path}: ${what} holds ${bytes.length / 4} float32 values, expected ${length}`);
  const out = new Float32Array(length);
  Buffer.from(out.buffer).set(bytes);
  return out;
}

function checksum(parts: readonly Float32Array[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  return h.digest("hex");
}

function orderedTensors(kind: HeadKind, hidden: number, classes: number): string[] {
  return Object.keys(paramShapes({ kind, hidden, classes }));
}

/** The file's JSON text for `head`. */
export function serializeHead(head: SemanticHead): string {
  const names = orderedTensors(head.kind, head.hidden, head.classes.length);
  const tensors: Record<string, { shape: readonly number[]; data: string }> = {};
  for (const n of names) tensors[n] = { shape: head.params[n]!.shape, data: toBase64(head.params[n]!.data) };
  const training = head.report ? (({ history: _history, ...rest }) => rest)(head.report) : null;
  return (
    JSON.stringify(
      {
        format: HEAD_FORMAT,
        version: HEAD_FORMAT_VERSION,
        kind: head.kind,
        hidden: head.hidden,
        channels: EMBEDDING_CHANNELS,
        model: head.model,
        classes: head.classes,
        classNames: head.classNames,
        featureMean: toBase64(head.featureMean),
        featureStd: toBase64(head.featureStd),
        tensors,
        sha256: checksum([head.featureMean, head.featureStd, ...names.map((n) => head.params[n]!.data)]),
        training,
      },
      null,
      1,
    ) + "\n"
  );
}

export async function saveSemanticHead(head: SemanticHead, path: string): Promise<void> {
  await writeFile(path, serializeHead(head));
}

/** Parses a head file's text; `path` names the file in errors. */
export function parseHead(text: string, path: string): SemanticHead {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: not a semantic head file (not JSON: ${(err as Error).message})`, { cause: err });
  }
  if (j === null || typeof j !== "object" || j.format !== HEAD_FORMAT) {
    throw new Error(`${path}: not a semantic head file (format is ${JSON.stringify(j?.format)}, expected "${HEAD_FORMAT}")`);
  }
  if (j.version !== HEAD_FORMAT_VERSION) throw new Error(`${path}: semantic head format version ${String(j.version)}; this package reads version ${HEAD_FORMAT_VERSION}`);
  const kind = j.kind as HeadKind;
  if (!HEAD_KINDS.includes(kind)) throw new Error(`${path}: head kind ${JSON.stringify(j.kind)} is not one of ${HEAD_KINDS.join(", ")}`);
  if (j.channels !== EMBEDDING_CHANNELS) throw new Error(`${path}: head reads ${String(j.channels)} feature channels; this package's encoders give ${EMBEDDING_CHANNELS}`);
  const hidden = j.hidden as number;
  if (!(Number.isInteger(hidden) && hidden >= 0)) throw new Error(`${path}: hidden ${String(j.hidden)} is not a non-negative integer`);
  const classes = j.classes as number[];
  if (!Array.isArray(classes) || classes.length < 2 || classes.some((c) => !Number.isInteger(c) || c < 0 || c > 0xffff) || classes[0] !== 0) {
    throw new Error(`${path}: classes must be label ids starting with 0 (background), got ${JSON.stringify(j.classes)}`);
  }
  const classNames = Array.isArray(j.classNames) && j.classNames.length === classes.length ? (j.classNames as string[]).map(String) : classes.map((c) => `class ${c}`);
  const model = j.model as { name?: unknown } | undefined;
  if (!model || typeof model.name !== "string") throw new Error(`${path}: the model the head was trained for is missing ("model": {"name": ...})`);
  const shapes = paramShapes({ kind, hidden, classes: classes.length });
  const given = (j.tensors ?? {}) as Record<string, { shape?: unknown; data?: unknown }>;
  const params: HeadParams = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const t = given[name];
    if (!t) throw new Error(`${path}: tensor '${name}' is missing`);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new Error(`${path}: tensor '${name}' has shape ${JSON.stringify(t.shape)}, a ${kind} head of ${classes.length} classes${kind === "conv" ? ` and hidden ${hidden}` : ""} needs ${JSON.stringify(shape)}`);
    }
    params[name] = { shape, data: fromBase64(t.data, shape.reduce((a, b) => a * b, 1), `tensor '${name}'`, path) };
  }
  const extra = Object.keys(given).filter((n) => !(n in shapes));
  if (extra.length) throw new Error(`${path}: unexpected tensors ${extra.join(", ")} for a ${kind} head`);
  const featureMean = fromBase64(j.featureMean, EMBEDDING_CHANNELS, "featureMean", path);
  const featureStd = fromBase64(j.featureStd, EMBEDDING_CHANNELS, "featureStd", path);
  const sum = checksum([featureMean, featureStd, ...Object.keys(shapes).map((n) => params[n]!.data)]);
  if (sum !== j.sha256) throw new Error(`${path}: checksum mismatch (the weights were changed or damaged): file says ${String(j.sha256)}, content gives ${sum}`);
  const training = (j.training ?? undefined) as Omit<TrainingReport, "history"> | undefined;
  return new SemanticHead(kind, classes, classNames, hidden, featureMean, featureStd, params, { name: model.name }, training ? { ...training, history: [] } : undefined);
}

export async function loadSemanticHead(path: string): Promise<SemanticHead> {
  return parseHead(await readFile(path, "utf8"), path);
}
