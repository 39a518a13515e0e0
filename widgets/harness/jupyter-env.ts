/**
 * An isolated Jupyter installation for a test: its own HOME and JUPYTER_* folders, and our
 * kernelspec written by the real `medicosam install --prefix` into a folder on JUPYTER_PATH.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../kernel/package-root.js";

/** Debian's Python, which has the Jupyter packages (`python3` on PATH may be another one). */
export const PYTHON = "/usr/bin/python3";

/** The repository, found by its package.json: this file also runs compiled under dist/ (npm run bench). */
export const REPO = packageRoot(import.meta.dirname);

/** `medicosam install` runs the compiled CLI: a missing build should say so, not fail the install. */
function requireBuiltCli(): void {
  const cli = join(REPO, "dist", "kernel", "cli.js");
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does).`);
}

export function pythonHas(...modules: string[]): boolean {
  const probe = spawnSync(PYTHON, ["-c", modules.map((m) => `import ${m}`).join("; ")], { stdio: "ignore" });
  return probe.status === 0;
}

export interface JupyterEnv {
  root: string;
  env: NodeJS.ProcessEnv;
  /** Where `medicosam install --prefix` put the kernelspec and labextensions. */
  dataDir: string;
  cleanup(): void;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [join(REPO, "bin", "medicosam.js"), ...args], { env, encoding: "utf8" });
}

export function jupyterEnv(options: { installArgs?: string[] } = {}): JupyterEnv {
  requireBuiltCli();
  const root = mkdtempSync(join(tmpdir(), "medicosam-jupyter-"));
  const dir = (name: string) => {
    const path = join(root, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const prefix = dir("prefix");
  const dataDir = join(prefix, "share", "jupyter");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir("home"),
    JUPYTER_DATA_DIR: dir("data"),
    JUPYTER_CONFIG_DIR: dir("config"),
    JUPYTER_RUNTIME_DIR: dir("runtime"),
    JUPYTER_PATH: dataDir,
    JUPYTER_NO_CONFIG: "1",
    IPYTHONDIR: dir("ipython"),
    PYTHONDONTWRITEBYTECODE: "1",
    // Kernel logs next to the test's files, not in the runtime folder Jupyter cleans.
    MEDICOSAM_KERNEL_LOG: join(root, "kernel.log"),
  };
  const installed = runCli(["install", "--prefix", prefix, ...(options.installArgs ?? [])], env);
  if (installed.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`medicosam install failed (${installed.status}):\n${installed.stdout}\n${installed.stderr}`);
  }
  return { root, env, dataDir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
