/**
 * Debian's nbclient runs a notebook on our kernel (started from the kernelspec that
 * `medicosam install` wrote): the saved notebook holds the widget state, and a failing cell is
 * an `error` output (nbclient stops on it unless errors are allowed), not stderr text.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { canRun } from "../helpers/require.js";
import { jupyterEnv, PYTHON, pythonHas, type JupyterEnv } from "../../widgets/harness/jupyter-env.js";
import { REPO } from "./helpers/kernel-process.js";
import type { NotebookOutput } from "../helpers/notebook-output.js";

const available = pythonHas("nbclient", "nbformat", "jupyter_client");
const DRIVER = join(REPO, "tests", "jupyter", "nbclient", "run_notebook.py");
const FIXTURE = join(REPO, "tests", "fixtures", "notebooks", "widget-state.ipynb");

type Output = NotebookOutput;
interface Notebook {
  metadata: { widgets?: Record<string, { state: Record<string, { model_name: string; state: Record<string, unknown>; buffers?: { path: unknown; data: string; encoding: string }[] }> }> };
  cells: { cell_type: string; outputs?: Output[] }[];
}

let jupyter: JupyterEnv | undefined;
const running = new Set<ChildProcess>();

function runNotebook(args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = spawn(PYTHON, [DRIVER, ...args], { cwd: jupyter!.root, env: jupyter!.env });
  running.add(proc);
  proc.once("exit", () => running.delete(proc));
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  return new Promise((resolve) => proc.once("exit", (code) => resolve({ code, output })));
}

describe.skipIf(!canRun(available, "Debian's python3-nbclient is not installed (apt-get install python3-nbclient)"))("nbclient", () => {
  beforeAll(() => {
    jupyter = jupyterEnv();
    // The notebook runs in a folder with no node_modules: the kernel's package redirect serves the import.
    copyFileSync(FIXTURE, join(jupyter.root, "widget-state.ipynb"));
  });
  afterAll(() => {
    // A run cut short by a timeout; its kernel follows it (JPY_PARENT_PID).
    for (const proc of running) proc.kill("SIGKILL");
    jupyter?.cleanup();
  });

  test("executes the notebook; widget state is saved; the failing cell is an error output", { timeout: 90_000 }, async () => {
    const out = join(jupyter!.root, "executed.ipynb");
    const run = await runNotebook([join(jupyter!.root, "widget-state.ipynb"), out, "--allow-errors"]);
    expect(run.code, run.output).toBe(0);
    const nb = JSON.parse(readFileSync(out, "utf8")) as Notebook;
    const code = nb.cells.filter((c) => c.cell_type === "code");

    const view = code[0]!.outputs!.find((o) => o.output_type === "execute_result")!;
    const { model_id } = view.data!["application/vnd.jupyter.widget-view+json"] as { model_id: string };

    const saved = nb.metadata.widgets!["application/vnd.jupyter.widget-state+json"]!.state[model_id]!;
    expect(saved.model_name).toBe("IntSliderModel");
    // The update from the second cell reached the saved state.
    expect(saved.state).toMatchObject({ _model_module: "@jupyter-widgets/controls", value: 7, max: 10, description: "clicks" });
    expect(saved.buffers).toEqual([{ path: ["histogram"], encoding: "base64", data: Buffer.from([1, 2, 3]).toString("base64") }]);

    // nbformat stores multi-line text as a list of lines.
    const text = (o: Output) => (Array.isArray(o.text) ? o.text.join("") : o.text);
    expect(code[1]!.outputs!.map((o) => [o.output_type, o.name, text(o)])).toEqual([["stream", "stdout", "value is 7\n"]]);

    const failing = code[2]!.outputs!;
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatchObject({ output_type: "error", ename: "Error", evalue: "deliberate failure in the last cell" });
    expect(failing[0]!.traceback![0]).toBe("Error: deliberate failure in the last cell");
  });

  test("without --allow-errors nbclient stops at the failing cell", { timeout: 90_000 }, async () => {
    const run = await runNotebook([join(jupyter!.root, "widget-state.ipynb"), join(jupyter!.root, "unused.ipynb")]);
    expect(run.code, run.output).toBe(3);
    expect(run.output).toContain("deliberate failure in the last cell");
  });
});
