/**
 * An embedding on disk: `embedding.f32` (256x64x64 float32, little-endian, channel-major)
 * and `embedding.json` (sizes, model, cache key). Raw float32 so that numpy reads it with
 * `np.fromfile(path, "<f4").reshape(256, 64, 64)`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EMBEDDING_LENGTH, type Embedding } from "./embedding.js";

export function saveEmbedding(dir: string, e: Embedding): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "embedding.f32"), toLittleEndian(e.data));
  const meta = {
    format: "medicosam-embedding/1",
    shape: [256, 64, 64],
    dtype: "float32-le",
    originalSize: e.originalSize,
    resizedSize: e.resizedSize,
    modelName: e.modelName,
    key: e.key,
  };
  writeFileSync(join(dir, "embedding.json"), JSON.stringify(meta, null, 2) + "\n");
}

export function loadEmbedding(dir: string): Embedding {
  const meta = JSON.parse(readFileSync(join(dir, "embedding.json"), "utf8")) as Omit<Embedding, "data"> & { format?: string };
  if (meta.format !== "medicosam-embedding/1") {
    throw new Error(`${join(dir, "embedding.json")}: unknown format '${meta.format}'; write it with \`medicosam embed\`.`);
  }
  const bytes = readFileSync(join(dir, "embedding.f32"));
  if (bytes.byteLength !== EMBEDDING_LENGTH * 4) {
    throw new Error(`${join(dir, "embedding.f32")}: ${bytes.byteLength} bytes; expected ${EMBEDDING_LENGTH * 4} (256x64x64 float32).`);
  }
  return { ...meta, data: fromLittleEndian(bytes) };
}

/** Raw float32 little-endian bytes (the platform order is checked, not assumed). */
export function toLittleEndian(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

export function fromLittleEndian(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of float32 values.`);
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
