/**
 * Jupyter's own conformance suite (Debian's python3-jupyter-kernel-test) against our kernel,
 * started by jupyter_client from the kernelspec that `medicosam install` wrote.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { canRun } from "../helpers/require.js";
import { jupyterEnv, PYTHON, pythonHas, type JupyterEnv } from "../../widgets/harness/jupyter-env.js";
import { REPO } from "./helpers/kernel-process.js";

const available = pythonHas("jupyter_kernel_test", "jupyter_client");
let jupyter: JupyterEnv | undefined;
let proc: ChildProcess | undefined;

afterAll(() => {
  // After a timeout the suite may still run; its kernel follows it (JPY_PARENT_PID).
  if (proc && proc.exitCode === null) proc.kill("SIGKILL");
  jupyter?.cleanup();
});

test("jupyter_kernel_test.KernelTests passes", { timeout: 150_000 }, async (ctx) => {
  if (!canRun(available, "Debian's python3-jupyter-kernel-test is not installed (apt-get install python3-jupyter-kernel-test)")) {
    ctx.skip();
    return;
  }
  jupyter = jupyterEnv();
  const pkg = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { name: string }).name;
  const suite = join(REPO, "tests", "jupyter", "conformance");
  proc = spawn(PYTHON, ["-m", "unittest", "discover", "-v", "-s", suite, "-p", "test_*.py"], {
    cwd: jupyter.root,
    env: { ...jupyter.env, MEDICOSAM_JUPYTER_API: `${pkg}/dist/kernel/jupyter/index.js` },
  });
  let output = "";
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => proc!.once("exit", resolve));
  expect(code, output).toBe(0);
  expect(Number(/Ran (\d+) tests?/.exec(output)?.[1])).toBeGreaterThanOrEqual(14);
  // Skips allowed: the pager (this kernel has none) and history (it keeps none; an empty reply is valid).
  const skipped = output.split("\n").filter((line) => /\.\.\. skipped/.test(line));
  expect(skipped.filter((line) => !/test_pager|test_history/.test(line)), output).toEqual([]);
  expect(output).not.toContain("terminate called");
});
