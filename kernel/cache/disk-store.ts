/**
 * On-disk embeddings of a volume: one folder per (volume data, view, model, preprocessing),
 * one half-precision chunk per slice, and a manifest saying what they were computed from.
 *
 * Layout (micro_sam keeps the same facts in zarr attributes, docs/inference.md §10):
 *   <root>/<key>/manifest.json      format, data signature, model, settings, sizes
 *   <root>/<key>/slices/0042.f16    256x64x64 float16 little-endian, channel-major
 *
 * Sizes: one slice is 256*64*64*2 bytes = 2 MiB (float32 would be 4 MiB); a 300-slice volume
 * is 600 MiB. The folder name is a hash of everything the embeddings depend on, so reopening
 * the same volume with the same model and settings finds them, and anything else gets its
 * own folder; a manifest that disagrees with what is asked for is refused, never reused.
 * Each chunk is written under a temporary name and renamed: a killed precompute leaves
 * whole slices or none.
 *
 * The second of the two embedding caches (the first is memory-cache.ts, in RAM and per
 * process): this one survives the kernel, so reopening a volume skips the encoder. It stores
 * and checks; deciding what to compute and when is `VolumeEmbeddings` (volume-embeddings.ts),
 * the only user, which puts a memory cache in front of it. Chunks are float16 (float16.ts).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir, endianness } from "node:os";
import { basename, join } from "node:path";
import type { Size2D } from "../io/image.js";
import { swapInPlace } from "../io/nifti-voxels.js";
import { EMBEDDING_LENGTH, type Embedding } from "../sam/embedding.js";
import { decodeHalf, encodeHalf } from "./float16.js";

export const STORE_FORMAT = "medicosam-volume-embeddings/1";
/** Bytes of one slice on disk. */
export const SLICE_BYTES = EMBEDDING_LENGTH * 2;

export interface StoreIdentity {
  /** sha256 of the voxel data and its shape (see dataSignature()). */
  readonly dataSignature: string;
  readonly model: { readonly name: string; readonly identity: string };
  /** Everything else that changes the pixels the encoder sees: view, intensity, preprocessing. */
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface StoreManifest extends StoreIdentity {
  readonly format: string;
  readonly dtype: "float16-le";
  readonly shape: readonly [number, number, number];
  readonly depth: number;
  readonly originalSize: Size2D;
  readonly resizedSize: Size2D;
  readonly created: string;
}

/** ~/.cache/medicosam/embeddings (or $XDG_CACHE_HOME/medicosam/embeddings). */
export function defaultStoreRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "medicosam", "embeddings");
}

/** sha256 over the shape, the element type and the bytes of the values. */
export function dataSignature(data: ArrayBufferView, shape: readonly number[]): string {
  const h = createHash("sha256");
  h.update(`${data.constructor.name}|${shape.join("x")}|`);
  h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return h.digest("hex");
}

/** JSON with object keys sorted: equal values give equal strings (identities compare by it). */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function storeKey(id: StoreIdentity): string {
  return createHash("sha256").update(canonical({ f: STORE_FORMAT, ...id })).digest("hex").slice(0, 24);
}

const HOST_LE = endianness() === "LE";

export class VolumeEmbeddingStore {
  private constructor(
    readonly dir: string,
    readonly manifest: StoreManifest,
    private readonly done: Set<number>,
  ) {}

  /**
   * Open (or create) the store for `id` under `root`. `sizes` are those of every slice of the
   * view; an existing manifest must agree on identity and sizes.
   */
  static async open(
    root: string,
    id: StoreIdentity,
    geometry: { depth: number; originalSize: Size2D; resizedSize: Size2D },
  ): Promise<VolumeEmbeddingStore> {
    const dir = join(root, storeKey(id));
    const manifestPath = join(dir, "manifest.json");
    let manifest: StoreManifest;
    if (existsSync(manifestPath)) {
      manifest = JSON.parse(await readFile(manifestPath, "utf8")) as StoreManifest;
      const problems: string[] = [];
      if (manifest.format !== STORE_FORMAT) problems.push(`format ${manifest.format} (expected ${STORE_FORMAT})`);
      if (manifest.dataSignature !== id.dataSignature) problems.push("the volume data differ (data signature)");
      if (canonical(manifest.model) !== canonical(id.model)) problems.push(`model ${canonical(manifest.model)} vs ${canonical(id.model)}`);
      if (canonical(manifest.settings) !== canonical(id.settings)) problems.push(`settings ${canonical(manifest.settings)} vs ${canonical(id.settings)}`);
      if (manifest.depth !== geometry.depth || canonical(manifest.originalSize) !== canonical(geometry.originalSize)) {
        problems.push(`sizes ${manifest.depth} x ${canonical(manifest.originalSize)} vs ${geometry.depth} x ${canonical(geometry.originalSize)}`);
      }
      if (problems.length) {
        throw new Error(`${manifestPath}: this embedding store was made for something else (${problems.join("; ")}); delete ${dir} to recompute`);
      }
    } else {
      manifest = {
        format: STORE_FORMAT,
        ...id,
        dtype: "float16-le",
        shape: [256, 64, 64],
        depth: geometry.depth,
        originalSize: geometry.originalSize,
        resizedSize: geometry.resizedSize,
        created: new Date().toISOString(),
      };
      await mkdir(join(dir, "slices"), { recursive: true });
      await writeFile(`${manifestPath}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
      await rename(`${manifestPath}.tmp`, manifestPath);
    }
    const done = new Set<number>();
    for (let z = 0; z < manifest.depth; z++) if (existsSync(join(dir, "slices", chunkName(z)))) done.add(z);
    return new VolumeEmbeddingStore(dir, manifest, done);
  }

  has(z: number): boolean {
    return this.done.has(z);
  }

  get count(): number {
    return this.done.size;
  }

  /** Slices not yet on disk, in `order`. */
  missing(order: Iterable<number>): number[] {
    return [...order].filter((z) => !this.done.has(z));
  }

  async write(z: number, e: Embedding): Promise<void> {
    this.checkIndex(z);
    if (e.data.length !== EMBEDDING_LENGTH) throw new Error(`embedding of slice ${z} has ${e.data.length} values, expected ${EMBEDDING_LENGTH}`);
    const half = encodeHalf(e.data);
    const bytes = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    if (!HOST_LE) swapInPlace(bytes, 2);
    const path = join(this.dir, "slices", chunkName(z));
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.done.add(z);
  }

  /** The slice's embedding (float32, decoded from half), with the store's sizes and model. */
  async read(z: number): Promise<Embedding> {
    this.checkIndex(z);
    const path = join(this.dir, "slices", chunkName(z));
    const buf = await readFile(path);
    if (buf.byteLength !== SLICE_BYTES) {
      this.done.delete(z);
      throw new Error(`${path}: ${buf.byteLength} bytes, expected ${SLICE_BYTES} (a damaged chunk; delete it to recompute the slice)`);
    }
    const bytes = new Uint8Array(buf.byteLength);
    bytes.set(buf);
    if (!HOST_LE) swapInPlace(bytes, 2);
    const data = decodeHalf(new Uint16Array(bytes.buffer, 0, EMBEDDING_LENGTH));
    return {
      data,
      originalSize: this.manifest.originalSize,
      resizedSize: this.manifest.resizedSize,
      modelName: this.manifest.model.name,
      key: `${basename(this.dir)}:${z}`,
    };
  }

  private checkIndex(z: number): void {
    if (!Number.isInteger(z) || z < 0 || z >= this.manifest.depth) {
      throw new Error(`slice ${z} is outside 0..${this.manifest.depth - 1}`);
    }
  }
}

function chunkName(z: number): string {
  return `${String(z).padStart(4, "0")}.f16`;
}
