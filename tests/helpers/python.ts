/**
 * Run a Python script with Debian's python3 (nibabel, pydicom) for cross-checks, and tell
 * whether the modules a test needs are installed.
 */
import { execFileSync, spawnSync } from "node:child_process";

export const PYTHON = "/usr/bin/python3";

export function pythonHas(...modules: string[]): boolean {
  const r = spawnSync(PYTHON, ["-c", modules.map((m) => `import ${m}`).join("; ")], { stdio: "ignore" });
  return r.status === 0;
}

/** Run `script` with args; returns stdout parsed as JSON. Errors include Python's stderr. */
export function runPythonJson<T = unknown>(script: string, args: string[] = []): T {
  const out = execFileSync(PYTHON, ["-c", script, ...args], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as T;
}
