/**
 * One isolated JupyterLab for a test suite: fresh JUPYTER_* folders and HOME in a scratch dir,
 * our kernelspec and labextension installed there by `medicosam install --prefix` (found through
 * JUPYTER_PATH, as a `pip install`ed kernel would be), the built test host served by
 * lab_host.py (Debian's jupyter_server + jupyterlab_server), and the tutorials copied into the
 * server's root as `notebooks/` next to a `data` link, so their `../data/...` paths and their
 * `../out/...` outputs stay inside the scratch dir.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { freePort } from "../../../widgets/harness/jupyter-process.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PYTHON, REPO } from "../../../widgets/harness/jupyter-server.js";
import type { BuiltHost } from "./host.js";

export interface Lab {
  url: string;
  token: string;
  /** The server's root (notebooks/, data -> the repository's data/, out/). */
  root: string;
  dir: string;
  /** What `medicosam install --prefix` reported (kernelspec folder, labextension). */
  installOutput: string;
  log(): string;
  /** Ends every kernel session of the server (REST API), e.g. between notebooks of a suite. */
  shutdownKernels(): Promise<number>;
  stop(): Promise<void>;
}

export async function startLab(host: BuiltHost): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), "medicosam-e2e-"));
  const f = Object.fromEntries(["root", "prefix", "data", "runtime", "config", "home", "ipython"].map((n) => [n, join(dir, n)])) as Record<string, string>;
  for (const folder of Object.values(f)) mkdirSync(folder, { recursive: true });

  const install = spawnSync(process.execPath, [join(REPO, "bin", "medicosam.js"), "install", "--prefix", f.prefix!], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`medicosam install --prefix failed:\n${install.stdout}\n${install.stderr}`);

  cpSync(join(REPO, "notebooks"), join(f.root!, "notebooks"), { recursive: true });
  symlinkSync(join(REPO, "data"), join(f.root!, "data"));

  const port = await freePort();
  const token = "medicosam-e2e-token";
  const env = {
    ...process.env,
    JUPYTER_NO_CONFIG: "1",
    JUPYTER_PATH: join(f.prefix!, "share", "jupyter"),
    JUPYTER_DATA_DIR: f.data!,
    JUPYTER_RUNTIME_DIR: f.runtime!,
    JUPYTER_CONFIG_DIR: f.config!,
    IPYTHONDIR: f.ipython!,
    HOME: f.home!,
    MEDICOSAM_KERNEL_LOG: join(dir, "kernel.log"),
  };
  let output = "";
  const proc: ChildProcess = spawn(
    PYTHON,
    [
      join(host.dir, "server", "lab_host.py"),
      "--host-dir",
      host.dir,
      "--extra-labextensions",
      host.labextensions,
      `--port=${port}`,
      "--ip=127.0.0.1",
      `--ServerApp.token=${token}`,
      "--ServerApp.open_browser=False",
      "--ServerApp.port_retries=0",
      "--allow-root",
      `--ServerApp.root_dir=${f.root}`,
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      // SIGTERM: jupyter_server shuts its kernels down before exiting.
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 8000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`lab_host.py exited with ${proc.exitCode}:\n${output}`);
    }
    try {
      const r = await fetch(`${url}/api/status`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`lab_host.py did not answer within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const shutdownKernels = async () => {
    const auth = { Authorization: `token ${token}` };
    const sessions = (await (await fetch(`${url}/api/sessions`, { headers: auth })).json()) as { id: string }[];
    for (const s of sessions) await fetch(`${url}/api/sessions/${s.id}`, { method: "DELETE", headers: auth });
    return sessions.length;
  };
  return { url, token, root: f.root!, dir, installOutput: `${install.stdout}${install.stderr}`, log: () => output, shutdownKernels, stop };
}

/** The kernel's own log (MEDICOSAM_KERNEL_LOG), for failure messages. */
export function kernelLog(lab: Lab): string {
  try {
    return readFileSync(join(lab.dir, "kernel.log"), "utf8");
  } catch {
    return "(no kernel log)";
  }
}
