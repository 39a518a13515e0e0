/** Debian's `jupyter server` on a free port with a fixed token, in an isolated Jupyter env. */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { PYTHON, type JupyterEnv } from "./jupyter-env.js";

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? res(address.port) : rej(new Error("no port"))));
    });
  });
}

export interface RunningServer {
  url: string;
  token: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  readonly timeoutMs?: number;
  /** Default: a random one. */
  readonly token?: string;
  /** Default: the env's root folder. */
  readonly rootDir?: string;
  /** More `jupyter server` options (e.g. `--ServerApp.extra_static_paths=[...]`). */
  readonly extraArgs?: readonly string[];
}

export async function startJupyterServer(jupyter: JupyterEnv, options: ServerOptions = {}): Promise<RunningServer> {
  const port = await freePort();
  const token = options.token ?? randomBytes(16).toString("hex");
  const rootDir = options.rootDir ?? jupyter.root;
  const proc = spawn(
    PYTHON,
    [
      "-m",
      "jupyter_server",
      "--no-browser",
      "--allow-root",
      `--ServerApp.ip=127.0.0.1`,
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.token=${token}`,
      `--ServerApp.root_dir=${rootDir}`,
      ...(options.extraArgs ?? []),
    ],
    { cwd: jupyter.root, env: jupyter.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/api/status?token=${token}`);
      if (res.ok) return { url, token, proc, output: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`jupyter server did not come up on ${url}:\n${output}`);
}
