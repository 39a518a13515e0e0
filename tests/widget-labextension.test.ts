/**
 * The prebuilt JupyterLab extension (`npm run build:widgets` -> dist/labextension): what
 * JupyterLab reads from it, and that `medicosam install` puts it where Jupyter looks.
 * (tests/widget-browser.test.ts loads the same build through module federation and renders it.)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MODULE_NAME, MODULE_VERSION } from "../widgets/segment-canvas/common/state.js";

const REPO = join(import.meta.dirname, "..");
const BUILT = join(REPO, "dist", "labextension");

/** The fields of the built extension's package.json that these tests read. */
interface BuiltManifest {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  jupyterlab: { _build: { load: string; extension: string }; sharedPackages: Record<string, unknown> };
}

function built(): { pkg: BuiltManifest; files: Map<string, string> } {
  const manifest = join(BUILT, "package.json");
  if (!existsSync(manifest)) throw new Error(`${manifest} is missing: run \`npm run build:widgets\` (npm test's build step does)`);
  const files = new Map<string, string>();
  for (const f of readdirSync(join(BUILT, "static"))) if (f.endsWith(".js")) files.set(f, readFileSync(join(BUILT, "static", f), "utf8"));
  return { pkg: JSON.parse(readFileSync(manifest, "utf8")), files };
}

describe("the built labextension", () => {
  const tmp = mkdtempSync(join(tmpdir(), "labext-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("is the module the kernel asks for, and its package.json points to the built remote entry", () => {
    const { pkg } = built();
    expect(pkg.name).toBe(MODULE_NAME);
    expect(pkg.version).toBe(MODULE_VERSION);
    const load = pkg.jupyterlab._build.load;
    expect(load).toMatch(/^static\/remoteEntry\.[0-9a-f]+\.js$/);
    expect(existsSync(join(BUILT, load))).toBe(true);
    expect(pkg.jupyterlab._build.extension).toBe("./extension");
  });

  it("declares @jupyter-widgets/base as a shared singleton that it does not bundle", () => {
    const { pkg, files } = built();
    expect(pkg.jupyterlab.sharedPackages["@jupyter-widgets/base"]).toEqual({ bundled: false, singleton: true });
    expect(pkg.dependencies["@jupyter-widgets/base"]).toMatch(/^\^6\./);
    const entry = files.get(pkg.jupyterlab._build.load.slice("static/".length))!;
    // The container consumes the module from the share scope, through webpack's singleton loader...
    expect(entry).toContain('"@jupyter-widgets/base"');
    expect(entry).toMatch(/singleton module/);
    // ...and no chunk carries a copy of it (base's Backbone models and comm handling are absent).
    const all = [...files.values()].join("\n");
    expect(all).not.toContain("_handle_comm_msg");
    expect(all).not.toContain("Backbone");
    // Our classes are in it.
    expect(all).toContain("SegmentCanvasModel");
    expect(all).toContain("SegmentCanvasView");
  });

  it("was built from its own folder: the chunk global carries its own name", () => {
    const { files } = built();
    const globals = new Set([...files.values()].flatMap((text) => text.match(/webpackChunk[\w$]+/g) ?? []));
    expect([...globals]).toEqual(["webpackChunkmedicosam_widgets"]);
    const entry = [...files.entries()].find(([f]) => f.startsWith("remoteEntry."))![1];
    expect(entry).toContain('"medicosam-widgets"');
    expect(entry).toContain("_JUPYTERLAB");
  });

  it("is installed by `medicosam install` next to the kernelspec", () => {
    const r = spawnSync(process.execPath, [join(REPO, "bin", "medicosam.js"), "install", "--prefix", tmp], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Installed the widgets labextension ${MODULE_NAME}`);
    const target = join(tmp, "share", "jupyter", "labextensions", MODULE_NAME);
    const pkg = JSON.parse(readFileSync(join(target, "package.json"), "utf8"));
    expect(existsSync(join(target, pkg.jupyterlab._build.load))).toBe(true);
    const spec = JSON.parse(readFileSync(join(tmp, "share", "jupyter", "kernels", "medicosam", "kernel.json"), "utf8"));
    expect(spec.metadata.medicosam.labextension).toBe(MODULE_NAME);
  });
});
