/**
 * A real, isolated `jupyter server` (Debian's 1.23) for browser tests: fresh JUPYTER_* folders
 * and HOME, our kernelspec installed there (the same `install()` as `medicosam install`), a
 * fixed token, 127.0.0.1 only. Static files for the test page are served from `staticDir` at
 * /static/... (the /files/ handler sandboxes pages, which would cut them off from the API).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { install } from "../../kernel/jupyter/install/kernelspec.js";
import { ownPackage } from "../../kernel/jupyter/package-redirect.js";

/** The repository root, from the source (tests/browser) or the compiled copy (dist/tests/browser) alike. */
export const REPO = ownPackage(fileURLToPath(import.meta.url)).root;
export const PYTHON = "/usr/bin/python3";

export interface JupyterServer {
  url: string;
  token: string;
  dir: string;
  rootDir: string;
  staticDir: string;
  kernelName: string;
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? res(address.port) : rej(new Error("no free port"))));
    });
  });
}

/** True when Debian's jupyter_server can be imported by /usr/bin/python3. */
export async function haveJupyterServer(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  return new Promise((res) => {
    const p = spawn(PYTHON, ["-c", "import jupyter_server"], { stdio: "ignore" });
    p.on("exit", (code) => res(code === 0));
    p.on("error", () => res(false));
  });
}

export async function startJupyterServer(): Promise<JupyterServer> {
  const dir = mkdtempSync(join(tmpdir(), "medicosam-jupyter-"));
  const folders = Object.fromEntries(["root", "data", "runtime", "config", "home", "static"].map((n) => [n, join(dir, n)]));
  for (const f of Object.values(folders)) mkdirSync(f!, { recursive: true });
  const kernel = await install(folders.data!, REPO);
  const port = await freePort();
  const token = "medicosam-test-token";
  const env = {
    ...process.env,
    JUPYTER_DATA_DIR: folders.data!,
    JUPYTER_PATH: folders.data!,
    JUPYTER_RUNTIME_DIR: folders.runtime!,
    JUPYTER_CONFIG_DIR: folders.config!,
    JUPYTER_NO_CONFIG: "1",
    HOME: folders.home!,
    MEDICOSAM_KERNEL_LOG: join(dir, "kernel.log"),
  };
  writeFileSync(join(dir, "kernelspec.json"), JSON.stringify(kernel));
  let output = "";
  const proc: ChildProcess = spawn(
    PYTHON,
    [
      "-m",
      "jupyter_server",
      `--port=${port}`,
      "--ip=127.0.0.1",
      `--ServerApp.token=${token}`,
      "--ServerApp.open_browser=False",
      "--allow-root",
      `--ServerApp.root_dir=${folders.root}`,
      `--ServerApp.extra_static_paths=${JSON.stringify([folders.static])}`,
      "--ServerApp.port_retries=0",
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`jupyter server exited with ${proc.exitCode}:\n${output}`);
    }
    try {
      const r = await fetch(`${url}/api/status`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jupyter server did not answer within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    token,
    dir,
    rootDir: folders.root!,
    staticDir: folders.static!,
    kernelName: "medicosam",
    log: () => output,
    stop,
  };
}
