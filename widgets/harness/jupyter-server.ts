/**
 * A real, isolated `jupyter server` (Debian's 1.23) for browser tests and the widget benchmark:
 * an isolated Jupyter env (jupyter-env.ts: fresh JUPYTER_* folders and HOME, our kernelspec and
 * labextension installed by the real `medicosam install --prefix`) and server (jupyter-process.ts), with a
 * fixed token and a notebook root of its own. Static files for the test page are served from
 * `staticDir` at /static/... (the /files/ handler sandboxes pages, which would cut them off from
 * the API).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { jupyterEnv, PYTHON } from "./jupyter-env.js";
import { startJupyterServer as startServer, type RunningServer } from "./jupyter-process.js";

export { PYTHON, REPO } from "./jupyter-env.js";

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
  const jupyter = jupyterEnv();
  const rootDir = join(jupyter.root, "notebooks");
  const staticDir = join(jupyter.root, "static");
  mkdirSync(rootDir, { recursive: true });
  mkdirSync(staticDir, { recursive: true });
  let server: RunningServer;
  try {
    server = await startServer(jupyter, {
      token: "medicosam-test-token",
      rootDir,
      timeoutMs: 30_000,
      extraArgs: [`--ServerApp.extra_static_paths=${JSON.stringify([staticDir])}`],
    });
  } catch (err) {
    jupyter.cleanup();
    throw err;
  }
  return {
    url: server.url,
    token: server.token,
    dir: jupyter.root,
    rootDir,
    staticDir,
    kernelName: "medicosam",
    log: server.output,
    stop: async () => {
      await server.stop();
      jupyter.cleanup();
    },
  };
}
