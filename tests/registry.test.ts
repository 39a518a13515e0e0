/**
 * The model registry (models/registry.json) and name -> folder resolution: known names and
 * their published checksums, validation of the file, the search order (package models/, then
 * the user's cache), and the error that tells a user the exact export command.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadModel } from "../kernel/sam/model.js";
import {
  exportCommand,
  findModelFolder,
  loadRegistry,
  lookupModel,
  ModelNotFoundError,
  modelsCacheDir,
  RegistryError,
} from "../kernel/sam/registry.js";
import { packageRoot } from "../kernel/package-root.js";

const tmp = mkdtempSync(join(tmpdir(), "registry-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const savedEnv = process.env.MEDICOSAM_MODELS_DIR;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.MEDICOSAM_MODELS_DIR;
  else process.env.MEDICOSAM_MODELS_DIR = savedEnv;
});

function writeRegistry(models: Record<string, unknown>): string {
  const path = join(tmp, `registry-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ version: 1, models }));
  return path;
}

const ckpt = { url: "https://example.invalid/w.pth", file: "w.pth", xxh128: "0123456789abcdef0123456789abcdef" };

describe("models/registry.json", () => {
  const registry = loadRegistry();

  it("knows MedicoSAM, SAM ViT-B and MedSAM with the checksums micro_sam publishes", () => {
    const medicosam = lookupModel(registry, "medicosam")!;
    expect(medicosam.architecture).toBe("vit_b");
    // micro_sam's registry: "vit_b_medical_imaging": "xxh128:40169f1e3c03a4b67bff58249c176d92"
    expect(medicosam.checkpoint).toMatchObject({
      xxh128: "40169f1e3c03a4b67bff58249c176d92",
      url: "https://owncloud.gwdg.de/index.php/s/f5Ol4FrjPQWfjUF/download",
    });
    const sam = lookupModel(registry, "sam-vit-b")!;
    expect(sam.checkpoint).toMatchObject({
      url: "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
      xxh128: "6923c33df3637b6a922d7682bfc9a86b",
      sha256: "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
    });
    const medsam = lookupModel(registry, "medsam")!;
    expect(medsam.checkpoint!.url).toBeNull();
    expect(medsam.checkpoint!.manual).toMatch(/medsam_vit_b\.pth/);
    for (const e of registry.entries) expect(e.licence, e.name).toBeTruthy();
  });

  it("resolves micro_sam's model_type names and is case-insensitive", () => {
    expect(lookupModel(registry, "vit_b_medical_imaging")!.name).toBe("medicosam");
    expect(lookupModel(registry, "MedicoSAM")!.name).toBe("medicosam");
    expect(lookupModel(registry, "vit_b")!.name).toBe("sam-vit-b");
    expect(lookupModel(registry, "analytic")!.name).toBe("analytic-test");
    expect(lookupModel(registry, "vit_h")).toBeUndefined();
  });
});

describe("loadRegistry validation", () => {
  it("refuses a downloadable checkpoint without a checksum, bad hex, and names used twice", () => {
    expect(() => loadRegistry(writeRegistry({ a: { title: "A", checkpoint: { ...ckpt, xxh128: null } } }))).toThrow(
      /needs a checksum.*never trusted unchecked/,
    );
    expect(() => loadRegistry(writeRegistry({ a: { title: "A", checkpoint: { ...ckpt, xxh128: "XYZ" } } }))).toThrow(
      /32 lowercase hex/,
    );
    expect(() => loadRegistry(writeRegistry({ a: { title: "A", checkpoint: { ...ckpt, url: null } } }))).toThrow(
      /without a url needs 'manual'/,
    );
    expect(() =>
      loadRegistry(writeRegistry({ a: { title: "A", checkpoint: ckpt }, b: { title: "B", aliases: ["A"], checkpoint: ckpt } })),
    ).toThrow(/the name 'a' is used by both 'a' and 'b'/);
    expect(() => loadRegistry(writeRegistry({ a: { title: "A" } }))).toThrow(/neither shipped nor has a 'checkpoint'/);
    expect(() => loadRegistry(join(tmp, "missing.json"))).toThrow(RegistryError);
  });
});

describe("modelsCacheDir", () => {
  it("prefers MEDICOSAM_MODELS_DIR, then XDG_CACHE_HOME, then LOCALAPPDATA on Windows, then ~/.cache", () => {
    expect(modelsCacheDir({ MEDICOSAM_MODELS_DIR: "/m", XDG_CACHE_HOME: "/x" }, "/home/u", "linux")).toBe("/m");
    expect(modelsCacheDir({ XDG_CACHE_HOME: "/x" }, "/home/u", "linux")).toBe("/x/medicosam/models");
    expect(modelsCacheDir({ LOCALAPPDATA: "C:/L" }, "/home/u", "win32")).toBe(join("C:/L", "medicosam", "models"));
    expect(modelsCacheDir({}, "/home/u", "linux")).toBe("/home/u/.cache/medicosam/models");
  });
});

describe("findModelFolder", () => {
  it("finds shipped models in the package's models/ folder by name or alias", () => {
    expect(findModelFolder("analytic-test")).toBe(join(packageRoot(), "models", "analytic"));
    expect(findModelFolder("analytic")).toBe(join(packageRoot(), "models", "analytic"));
  });

  it("finds an exported model in the cache, after the package's models/ folder", () => {
    const cache = join(tmp, "cache1");
    const projectModels = join(tmp, "project1");
    mkdirSync(join(cache, "medicosam"), { recursive: true });
    writeFileSync(join(cache, "medicosam", "model.json"), "{}");
    expect(findModelFolder("vit_b_medical_imaging", { cacheDir: cache, projectModels })).toBe(join(cache, "medicosam"));
    mkdirSync(join(projectModels, "medicosam"), { recursive: true });
    writeFileSync(join(projectModels, "medicosam", "model.json"), "{}");
    expect(findModelFolder("medicosam", { cacheDir: cache, projectModels })).toBe(join(projectModels, "medicosam"));
  });

  it("says the exact export command when a known model is missing", () => {
    const cache = join(tmp, "empty-cache");
    const err = (() => {
      try {
        findModelFolder("medicosam", { cacheDir: cache, projectModels: join(tmp, "none") });
      } catch (e) {
        return e as ModelNotFoundError;
      }
      throw new Error("expected ModelNotFoundError");
    })();
    expect(err).toBeInstanceOf(ModelNotFoundError);
    const script = join(packageRoot(), "models", "export", "export_sam.py");
    expect(err.message).toContain(`python ${script} medicosam --out ${join(cache, "medicosam")}`);
    expect(err.message).toMatch(/conda env create -f environment\.yml/);
    expect(existsSync(script)).toBe(true); // the command names a script that exists
    expect(existsSync(join(packageRoot(), "environment.yml"))).toBe(true);

    expect(() => findModelFolder("medsam", { cacheDir: cache, projectModels: join(tmp, "none") })).toThrow(
      /download the checkpoint by hand.*--checkpoint \/path\/to\/medsam_vit_b\.pth/s,
    );
    expect(() => findModelFolder("vit_h", { cacheDir: cache })).toThrow(/neither a model folder nor a known model name \(known: medicosam, sam-vit-b, medsam/);
  });

  it("quotes paths with spaces in the command", () => {
    const registry = loadRegistry();
    expect(exportCommand(lookupModel(registry, "sam-vit-b")!, "/a b/sam-vit-b", "/pkg")).toBe(
      "python /pkg/models/export/export_sam.py sam-vit-b --out '/a b/sam-vit-b'",
    );
  });
});

describe("loadModel by name", () => {
  it("loads a registry name and fails with the export command for a missing one", async () => {
    const model = await loadModel("analytic");
    try {
      expect(model.name).toBe("analytic-test");
    } finally {
      await model.dispose();
    }
    process.env.MEDICOSAM_MODELS_DIR = join(tmp, "no-models-here");
    await expect(loadModel("medicosam")).rejects.toThrow(/not exported yet.*export_sam\.py medicosam --out/s);
    // A path-like source never goes through the registry: the old message stays.
    await expect(loadModel("./medicosam")).rejects.toThrow(/model folder not found/);
  });

  it("finds a model exported into the cache by name", async () => {
    const cache = join(tmp, "cache2");
    cpSync("models/analytic", join(cache, "sam-vit-b"), { recursive: true });
    process.env.MEDICOSAM_MODELS_DIR = cache;
    const model = await loadModel("sam-vit-b");
    try {
      expect(model.encoderPath).toBe(join(cache, "sam-vit-b", "encoder.onnx"));
    } finally {
      await model.dispose();
    }
  });
});
