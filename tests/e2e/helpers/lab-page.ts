/**
 * Drives the real JupyterLab UI of a test host in Chromium (playwright-core): opens a notebook,
 * waits for the app and the kernel, runs cells through Lab's own commands
 * (`notebook:run-all-cells`, `notebook:run-cell`, `kernelmenu:restart`/`interrupt`), and reads
 * outputs back from the notebook model. Console errors and page errors are collected for the
 * allow-list check (see CONSOLE_ALLOW).
 *
 * Callbacks passed to page.evaluate run in the browser, against Lab's objects; the tests'
 * tsconfig has no DOM types (the kernel code must not use them), so those callbacks see `window`
 * and `document` as `any`, declared here for this module only.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, ConsoleMessage, Page } from "playwright-core";
import { REPO } from "../../../widgets/harness/jupyter-server.js";
import type { Lab } from "./lab.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

export const ARTIFACTS = join(REPO, "test-artifacts", "e2e");
export const MANAGER_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin";
export const OUR_PLUGIN = "medicosam-widgets:plugin";

/**
 * Console errors that do not fail a test. Each entry says why it is harmless; keep it short.
 * Page errors (uncaught exceptions) are never allowed.
 */
export const CONSOLE_ALLOW: { pattern: RegExp; why: string }[] = [
  // Lab puts a markdown cell's HTML into the page before its resolver replaces `attachment:` image
  // URLs with data URLs; the browser's first attempt fails, the picture then shows (the tutorial
  // test checks every markdown image decodes). 05-canvas has such an attachment.
  { pattern: /ERR_UNKNOWN_URL_SCHEME @ attachment:/, why: "Lab resolves attachment: images after a first failed load" },
];

export interface Output {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface CellResult {
  index: number;
  outputs: Output[];
  stdout: string;
  error: string | null;
}

const textOf = (o: Output): string => (typeof o.text === "string" ? o.text : Array.isArray(o.text) ? (o.text as string[]).join("") : "");

export class LabPage {
  readonly consoleErrors: string[] = [];
  readonly pageErrors: string[] = [];
  /** Console warnings, kept for the failure message only. */
  readonly warnings: string[] = [];

  private constructor(
    readonly page: Page,
    readonly lab: Lab,
  ) {
    page.on("console", (m: ConsoleMessage) => {
      if (m.type() === "error") this.consoleErrors.push(`${m.text()} @ ${m.location().url}`);
      else if (m.type() === "warning") this.warnings.push(m.text());
    });
    page.on("pageerror", (e) => this.pageErrors.push(`${e.name}: ${e.message}\n${e.stack ?? ""}`));
  }

  /**
   * Opens `path` in a workspace of its own (named after the notebook): Lab restores a workspace's
   * open tabs, so a shared one would reopen every earlier notebook, each with its kernel.
   */
  static async open(browser: Browser, lab: Lab, path: string): Promise<LabPage> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
    const lp = new LabPage(page, lab);
    await lp.goto(path);
    return lp;
  }

  /** Loads /lab/workspaces/<name>/tree/<path> and waits until Lab restored its layout and the notebook's kernel is idle. */
  async goto(path: string): Promise<void> {
    const workspace = `e2e-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;
    await this.page.goto(`${this.lab.url}/lab/workspaces/${workspace}/tree/${path}?token=${this.lab.token}`);
    await this.page.waitForFunction(() => document.body.dataset.labRestored === "true", null, { timeout: 60_000 });
    await this.page.waitForFunction(
      (p) => {
        const w = window.jupyterapp.shell.currentWidget;
        return w && w.context && w.context.path === p && w.content && w.content.model;
      },
      path,
      { timeout: 30_000 },
    );
    await this.kernelIdle();
  }

  /** Reloads the page (same notebook) and waits as goto does. */
  async reload(path: string): Promise<void> {
    await this.goto(path);
  }

  pluginActivated(id: string): Promise<boolean> {
    return this.page.evaluate((p) => window.jupyterapp.isPluginActivated(p) as boolean, id);
  }

  /** Name and status of the current notebook's kernel. */
  kernel(): Promise<{ name: string; status: string; id: string } | null> {
    return this.page.evaluate(() => {
      const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
      return k ? { name: k.name, status: k.status, id: k.id } : null;
    });
  }

  async kernelIdle(timeout = 60_000): Promise<void> {
    await this.page.waitForFunction(
      () => {
        const ctx = window.jupyterapp.shell.currentWidget?.sessionContext;
        return ctx && ctx.session?.kernel?.status === "idle" && !ctx.pendingInput;
      },
      null,
      { timeout, polling: 100 },
    );
  }

  /**
   * Lab's "Run All": returns when every code cell has run, or as soon as one shows an error
   * (Lab then stops the queue, and the remaining cells would never run).
   */
  async runAll(timeout = 180_000): Promise<void> {
    await this.page.evaluate(() => {
      void window.jupyterapp.commands.execute("notebook:run-all-cells");
    });
    await this.page.waitForFunction(
      () => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const cells = nb.widgets.filter((c: any) => c.model.type === "code");
        const failed = cells.some((c: any) => c.model.outputs.toJSON().some((o: any) => o.output_type === "error"));
        const done = cells.every((c: any) => c.model.executionCount !== null && !c.node.classList.contains("jp-mod-running") && c.promptNode?.textContent !== "[*]:");
        return failed || done;
      },
      null,
      { timeout, polling: 250 },
    );
    await this.kernelIdle();
  }

  /** Outputs of every code cell, in order (from the notebook model, as Lab would save them). */
  outputs(): Promise<Output[][]> {
    return this.page.evaluate(() =>
      window.jupyterapp.shell.currentWidget.content.widgets.filter((c: any) => c.model.type === "code").map((c: any) => c.model.outputs.toJSON()),
    );
  }

  /** Error outputs, and stderr streams, with the cell index: a tutorial must have none. */
  async problems(): Promise<string[]> {
    const all = await this.outputs();
    return all.flatMap((outs, i) =>
      outs
        .filter((o) => o.output_type === "error" || (o.output_type === "stream" && o.name === "stderr"))
        .map((o) => `code cell ${i}: ${o.output_type === "error" ? `${o.ename}: ${o.evalue}` : textOf(o)}`),
    );
  }

  /**
   * Appends a code cell with `source`, runs it with `notebook:run-cell` as a user would
   * (select, Shift+Enter's command) and returns its outputs once it finished.
   */
  async runCell(source: string, timeout = 120_000): Promise<CellResult> {
    const index = await this.page.evaluate((src) => {
      const model = window.jupyterapp.shell.currentWidget.content.model;
      model.sharedModel.insertCell(model.cells.length, { cell_type: "code", source: src });
      return model.cells.length - 1;
    }, source);
    return this.runCellAt(index, timeout);
  }

  /** Runs the cell at `index` (of all cells) with `notebook:run-cell` and returns its outputs. */
  async runCellAt(index: number, timeout = 120_000): Promise<CellResult> {
    await this.startCellAt(index);
    return this.finished(index, timeout);
  }

  /** Appends a cell with `source` and starts it, without waiting; returns its index. */
  async startCell(source: string): Promise<number> {
    const index = await this.page.evaluate((src) => {
      const model = window.jupyterapp.shell.currentWidget.content.model;
      model.sharedModel.insertCell(model.cells.length, { cell_type: "code", source: src });
      return model.cells.length - 1;
    }, source);
    await this.startCellAt(index);
    return index;
  }

  async startCellAt(index: number): Promise<void> {
    await this.page.evaluate((i) => {
      const nb = window.jupyterapp.shell.currentWidget.content;
      nb.activeCellIndex = i;
      nb.mode = "command";
      void window.jupyterapp.commands.execute("notebook:run-cell");
    }, index);
  }

  /** Waits until cell `index` ran (execution count set, not running) and the kernel is idle. */
  async finished(index: number, timeout = 120_000): Promise<CellResult> {
    await this.page.waitForFunction(
      (i) => {
        const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
        return cell.model.executionCount !== null && !cell.node.classList.contains("jp-mod-running");
      },
      index,
      { timeout, polling: 100 },
    );
    await this.kernelIdle();
    const outputs: Output[] = await this.page.evaluate((i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs.toJSON(), index);
    const stdout = outputs.filter((o) => o.output_type === "stream" && o.name === "stdout").map(textOf).join("");
    const err = outputs.find((o) => o.output_type === "error");
    return { index, outputs, stdout, error: err ? `${err.ename}: ${err.evalue}` : null };
  }

  /** Waits until the notebook's kernel reports `status` (e.g. "busy" while a cell runs). */
  async kernelStatus(status: string, timeout = 30_000): Promise<void> {
    await this.page.waitForFunction((st) => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === st, status, { timeout, polling: 50 });
  }

  /** Starts recording the session's kernel statuses (Lab's sessionContext.statusChanged). */
  async recordStatuses(): Promise<void> {
    await this.page.evaluate(() => {
      window.__e2eStatuses = [];
      window.jupyterapp.shell.currentWidget.sessionContext.statusChanged.connect((_: unknown, st: string) => window.__e2eStatuses.push(st));
    });
  }

  /** Waits until the recorded statuses include `status` and the kernel is idle again. */
  async statusPassed(status: string, timeout = 60_000): Promise<string[]> {
    await this.page.waitForFunction((st) => window.__e2eStatuses.includes(st), status, { timeout, polling: 50 });
    await this.kernelIdle(timeout);
    return this.page.evaluate(() => window.__e2eStatuses.slice());
  }

  /** Execution counts of the code cells, in order (null: not run). */
  executionCounts(): Promise<(number | null)[]> {
    return this.page.evaluate(() =>
      window.jupyterapp.shell.currentWidget.content.widgets.filter((c: any) => c.model.type === "code").map((c: any) => c.model.executionCount),
    );
  }

  /** Index (among all cells) of the first code cell. */
  firstCodeCell(): Promise<number> {
    return this.page.evaluate(() => window.jupyterapp.shell.currentWidget.content.widgets.findIndex((c: any) => c.model.type === "code"));
  }

  /** Tags the DOM node of cell `index` with data-e2e=`tag`, so locators can find what it shows. */
  async tagCell(index: number, tag: string): Promise<string> {
    await this.page.evaluate(([i, t]) => window.jupyterapp.shell.currentWidget.content.widgets[i as number].node.setAttribute("data-e2e", t), [index, tag] as const);
    return `[data-e2e="${tag}"]`;
  }

  /** Runs a cell that prints one JSON value on its last stdout line; fails on an error output. */
  async json<T>(source: string): Promise<T> {
    const r = await this.runCell(source);
    if (r.error) throw new Error(`cell failed: ${r.error}\n--- code ---\n${source}`);
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`expected JSON on the last stdout line, got:\n${r.stdout}\n--- code ---\n${source}`);
    }
  }

  /** Runs a Lab command (e.g. "kernelmenu:restart") without waiting for it (it may open a dialog). */
  async command(id: string): Promise<void> {
    await this.page.evaluate((c) => {
      void window.jupyterapp.commands.execute(c);
    }, id);
  }

  /** Accepts the dialog Lab shows (restart confirmation...), by its accept button. */
  async acceptDialog(): Promise<string> {
    const dialog = this.page.locator(".jp-Dialog");
    await dialog.waitFor({ timeout: 10_000 });
    const text = (await dialog.locator(".jp-Dialog-header").textContent()) ?? "";
    await dialog.locator("button.jp-mod-accept").click();
    await dialog.waitFor({ state: "detached", timeout: 10_000 });
    return text;
  }

  /** Console errors not in CONSOLE_ALLOW, and all page errors. */
  unexpectedErrors(): string[] {
    return [...this.pageErrors.map((e) => `pageerror: ${e}`), ...this.consoleErrors.filter((e) => !CONSOLE_ALLOW.some((a) => a.pattern.test(e)))];
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Lab skips painting off-screen cells (content-visibility); let a scroll's cells paint first.
    await this.page.evaluate(() => new Promise((r) => window.requestAnimationFrame(() => window.requestAnimationFrame(() => setTimeout(r, 100)))));
    const path = join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  async close(): Promise<void> {
    await this.page.close();
  }
}
