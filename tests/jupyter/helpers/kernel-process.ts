/**
 * Starts the compiled kernel (dist/, as Jupyter would) in a temporary folder with a fresh
 * connection file on free ports, and stops it for sure afterwards.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionInfo } from "../../../kernel/jupyter/connection.js";
import { packageRoot } from "../../../kernel/package-root.js";
import { freePort } from "../../../widgets/harness/jupyter-process.js";
import { KernelClient } from "./client.js";

/** The repository, found by its package.json: this file also runs compiled under dist/ (npm run bench). */
export const REPO = packageRoot(import.meta.dirname);
export const KERNEL_ENTRY = join(REPO, "dist/kernel/jupyter/main.js");

export function requireBuild(): void {
  if (!existsSync(KERNEL_ENTRY)) {
    throw new Error(`${KERNEL_ENTRY} is missing: run \`npm run build\` first (npm test does).`);
  }
}

export async function connectionInfo(): Promise<ConnectionInfo> {
  const [shell, iopub, stdin, control, hb] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  return {
    transport: "tcp",
    ip: "127.0.0.1",
    shell_port: shell!,
    iopub_port: iopub!,
    stdin_port: stdin!,
    control_port: control!,
    hb_port: hb!,
    key: randomBytes(16).toString("hex"),
    signature_scheme: "hmac-sha256",
  };
}

export interface RunningKernel {
  proc: ChildProcess;
  client: KernelClient;
  info: ConnectionInfo;
  dir: string;
  logPath: string;
  exited: Promise<number | null>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts a kernel in `cwd` (default: a new temp folder) and waits until it answers. */
export async function startKernel(options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunningKernel> {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), "medicosam-kernel-"));
  const cwd = options.cwd ?? dir;
  const info = await connectionInfo();
  const connectionFile = join(dir, "connection.json");
  writeFileSync(connectionFile, JSON.stringify(info));
  const logPath = join(dir, "kernel.log");
  const proc = spawn(process.execPath, [KERNEL_ENTRY, "--connection-file", connectionFile], {
    cwd,
    env: { ...process.env, MEDICOSAM_KERNEL_LOG: logPath, HOME: dir, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  const client = new KernelClient(info);
  const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  const stop = async () => {
    client.close();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      client.ready(),
      exited.then((code) => {
        throw new Error(`kernel exited with ${code} before answering:\n${output}\n${log()}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, client, info, dir, logPath, exited, log, stop };
}
