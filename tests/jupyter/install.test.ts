/** `medicosam install` / `uninstall`: the real CLI writing into temporary Jupyter data dirs. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, test } from "vitest";
import { findLabextension, nodeFlags } from "../../kernel/jupyter/install/kernelspec.js";
import { dataDir, userDataDir } from "../../kernel/jupyter/install/paths.js";
import { canRun } from "../helpers/require.js";
import { PYTHON, pythonHas, runCli } from "../../widgets/harness/jupyter-env.js";
import { KERNEL_ENTRY, requireBuild } from "./helpers/kernel-process.js";

const temps: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), "medicosam-install-"));
  temps.push(dir);
  return dir;
}
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A folder shaped like `build-labextension` output. */
function fakeLabextension(root: string, name = "@medicosam/widgets"): string {
  mkdirSync(join(root, "static"), { recursive: true });
  writeFileSync(join(root, "package.json"), JSON.stringify({ name, version: "0.1.0", jupyterlab: { _build: { load: "static/remoteEntry.abc.js" } } }));
  writeFileSync(join(root, "static", "remoteEntry.abc.js"), "/* federated entry */");
  return root;
}

describe("data dir rules (as jupyter_core)", () => {
  const home = "/home/u";
  test("--user", () => {
    expect(userDataDir({ env: {}, platform: "linux", home })).toBe("/home/u/.local/share/jupyter");
    expect(userDataDir({ env: { XDG_DATA_HOME: "/xdg" }, platform: "linux", home })).toBe("/xdg/jupyter");
    expect(userDataDir({ env: { JUPYTER_DATA_DIR: "/jd" }, platform: "linux", home })).toBe("/jd");
    expect(userDataDir({ env: {}, platform: "darwin", home })).toBe("/home/u/Library/Jupyter");
  });
  test("--sys-prefix and --prefix", () => {
    expect(dataDir({ kind: "sys-prefix" }, { env: { CONDA_PREFIX: "/opt/conda/envs/m" }, platform: "linux", home })).toBe(
      "/opt/conda/envs/m/share/jupyter",
    );
    expect(dataDir({ kind: "sys-prefix" }, { env: { VIRTUAL_ENV: "/venv" }, platform: "linux", home })).toBe("/venv/share/jupyter");
    expect(() => dataDir({ kind: "sys-prefix" }, { env: {}, platform: "linux", home })).toThrow(/CONDA_PREFIX or VIRTUAL_ENV/);
    expect(dataDir({ kind: "prefix", dir: "/p" })).toBe("/p/share/jupyter");
  });
  test("node flags for require(esm)", () => {
    expect(nodeFlags("20.19.0")).toEqual([]);
    expect(nodeFlags("22.12.0")).toEqual([]);
    expect(nodeFlags("20.17.0")).toEqual(["--experimental-require-module", "--disable-warning=ExperimentalWarning"]);
    expect(() => nodeFlags("18.20.0")).toThrow(/Node >= 20.19/);
  });
});

describe("medicosam install / uninstall", () => {
  requireBuild();

  test("writes kernel.json with absolute node and entry, signal interrupts, and logos", async () => {
    const prefix = temp();
    const run = runCli(["install", "--prefix", prefix], process.env);
    expect(run.status, run.stderr).toBe(0);
    const kernelDir = join(prefix, "share", "jupyter", "kernels", "medicosam");
    expect(run.stdout).toContain(`Installed the kernel "MedicoSAM (TypeScript)" in ${kernelDir}`);
    const spec = JSON.parse(readFileSync(join(kernelDir, "kernel.json"), "utf8"));
    expect(spec).toMatchObject({ display_name: "MedicoSAM (TypeScript)", language: "typescript", interrupt_mode: "signal" });
    expect(spec.argv[0]).toBe(process.execPath);
    expect(spec.argv.slice(-3)).toEqual([KERNEL_ENTRY, "--connection-file", "{connection_file}"]);
    for (const [file, size] of [["logo-32x32.png", 32], ["logo-64x64.png", 64]] as const) {
      const meta = await sharp(readFileSync(join(kernelDir, file))).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", size, size]);
    }
    expect(readFileSync(join(kernelDir, "logo-svg.svg"), "utf8")).toMatch(/^<svg/);
  });

  test("without a built labextension it says so and still installs the kernel", () => {
    const prefix = temp();
    // An empty folder stands for a labextension that was never built.
    const run = runCli(["install", "--prefix", prefix, "--labextension", temp()], process.env);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/No widgets labextension installed: the widgets labextension has not been built yet/);
    expect(existsSync(join(prefix, "share", "jupyter", "kernels", "medicosam", "kernel.json"))).toBe(true);
  });

  test("copies a built labextension into the same data dir; uninstall removes both", () => {
    const prefix = temp();
    const built = fakeLabextension(join(temp(), "built"));
    const run = runCli(["install", "--prefix", prefix, "--labextension", built], process.env);
    expect(run.status, run.stderr).toBe(0);
    const data = join(prefix, "share", "jupyter");
    const copied = join(data, "labextensions", "@medicosam", "widgets", "static", "remoteEntry.abc.js");
    expect(readFileSync(copied, "utf8")).toBe("/* federated entry */");
    expect(run.stdout).toContain("Installed the widgets labextension @medicosam/widgets");

    const removed = runCli(["uninstall", "--prefix", prefix], process.env);
    expect(removed.status, removed.stderr).toBe(0);
    expect(existsSync(join(data, "kernels", "medicosam"))).toBe(false);
    expect(existsSync(join(data, "labextensions", "@medicosam", "widgets"))).toBe(false);
    const again = runCli(["uninstall", "--prefix", prefix], process.env);
    expect(again.stdout).toContain("Nothing to remove");
  });

  test("--user honours JUPYTER_DATA_DIR; --sys-prefix the active conda env", () => {
    const user = temp();
    expect(runCli(["install", "--user"], { ...process.env, JUPYTER_DATA_DIR: user }).status).toBe(0);
    expect(existsSync(join(user, "kernels", "medicosam", "kernel.json"))).toBe(true);
    const conda = temp();
    expect(runCli(["install", "--sys-prefix"], { ...process.env, CONDA_PREFIX: conda, VIRTUAL_ENV: "" }).status).toBe(0);
    expect(existsSync(join(conda, "share", "jupyter", "kernels", "medicosam", "kernel.json"))).toBe(true);
    const none = runCli(["install", "--sys-prefix"], { ...process.env, CONDA_PREFIX: "", VIRTUAL_ENV: "" });
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("--sys-prefix needs an active conda environment or virtualenv");
  });

  test("conflicting or unknown options are usage errors", () => {
    const both = runCli(["install", "--user", "--prefix", "/tmp/x"], process.env);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain("choose one of --user, --prefix");
    expect(runCli(["uninstall", "--bogus"], process.env).status).toBe(2);
  });

  test("Jupyter itself finds the installed kernel", (ctx) => {
    if (!canRun(pythonHas("jupyter_client"), "Debian's python3-jupyter-client is not installed")) return ctx.skip();
    const prefix = temp();
    expect(runCli(["install", "--prefix", prefix], process.env).status).toBe(0);
    const probe = spawnSync(
      PYTHON,
      ["-c", "import json; from jupyter_client.kernelspec import KernelSpecManager as M; s = M().get_kernel_spec('medicosam'); print(json.dumps([s.display_name, s.language, s.interrupt_mode, s.resource_dir]))"],
      { env: { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter"), HOME: temp(), JUPYTER_DATA_DIR: temp() }, encoding: "utf8" },
    );
    expect(probe.status, probe.stderr).toBe(0);
    expect(JSON.parse(probe.stdout)).toEqual(["MedicoSAM (TypeScript)", "typescript", "signal", join(prefix, "share", "jupyter", "kernels", "medicosam")]);
  });
});

describe("finding the package's own labextension build", () => {
  test("reads jupyterlab.outputDir of widgets/labextension/package.json", () => {
    const root = temp();
    expect(findLabextension(root)).toEqual({ missing: expect.stringContaining("no widgets labextension package") });
    mkdirSync(join(root, "widgets", "labextension"), { recursive: true });
    writeFileSync(join(root, "widgets", "labextension", "package.json"), JSON.stringify({ name: "src", jupyterlab: { outputDir: "out" } }));
    expect(findLabextension(root)).toEqual({ missing: expect.stringContaining("has not been built yet") });
    fakeLabextension(join(root, "widgets", "labextension", "out"), "medicosam-widgets");
    expect(findLabextension(root)).toEqual({ name: "medicosam-widgets", dir: join(root, "widgets", "labextension", "out") });
  });
});
