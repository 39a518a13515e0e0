/**
 * The package as its users import it: by name from a script inside this repository (package.json
 * "exports" makes Node resolve the package's own name, "self-reference"), and from a project in
 * another folder that installed it with `npm install /path/to/medicosam-notebook` (npm links a
 * folder dependency, so node_modules/medicosam-notebook is a symlink to this repository). Also
 * checks that every dependency with an install script has an explicit allowScripts decision.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const SCRIPT = `
import { loadModel, readImage } from "medicosam-notebook";
import { readNifti } from "medicosam-notebook/dist/kernel/io/nifti-read.js";
import { createRequire } from "node:module";
const pkg = createRequire(import.meta.url)("medicosam-notebook/package.json");
const image = await readImage(${JSON.stringify(join(ROOT, "data/phantom-slice.png"))});
console.log(JSON.stringify({
  name: pkg.name,
  loadModel: typeof loadModel,
  readNifti: typeof readNifti,
  image: [image.width, image.height, image.channels],
  from: import.meta.resolve("medicosam-notebook"),
}));
`;

let inside: string;
let outside: string;

function runScript(dir: string): Record<string, unknown> {
  const path = join(dir, "use-package.mjs");
  writeFileSync(path, SCRIPT);
  const r = spawnSync(process.execPath, [path], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/kernel/index.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does it).");
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  inside = mkdtempSync(join(ROOT, "test-artifacts", "self-reference-"));
  outside = mkdtempSync(join(tmpdir(), "medicosam-consumer-"));
});
afterAll(() => {
  rmSync(inside, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("import ... from \"medicosam-notebook\"", () => {
  it("works in a script inside the repository (no node_modules/medicosam-notebook there)", () => {
    expect(existsSync(join(ROOT, "node_modules", "medicosam-notebook"))).toBe(false);
    const out = runScript(inside);
    expect(out).toEqual({
      name: "medicosam-notebook",
      loadModel: "function",
      readNifti: "function",
      image: [384, 320, 1],
      from: `file://${join(ROOT, "dist/kernel/index.js")}`,
    });
  });

  it("works from another folder that installed the package (a linked folder dependency)", () => {
    writeFileSync(join(outside, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
    mkdirSync(join(outside, "node_modules"));
    symlinkSync(ROOT, join(outside, "node_modules", "medicosam-notebook"), "dir");
    const out = runScript(outside);
    expect(out.loadModel).toBe("function");
    expect(out.image).toEqual([384, 320, 1]);
    expect(out.from).toBe(`file://${join(ROOT, "dist/kernel/index.js")}`);
  });
});

describe("install scripts", () => {
  it("every dependency with an install script has an explicit allowScripts decision", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
    expect(withScripts.length).toBeGreaterThan(0);
    const decided = Object.keys(pkg.allowScripts ?? {});
    expect(withScripts.filter((name) => !decided.includes(name))).toEqual([]);
    // and no stale entries for packages that are gone
    expect(decided.filter((name) => !withScripts.includes(name))).toEqual([]);
  });
});
