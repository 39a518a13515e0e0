/**
 * Kernel control from JupyterLab's UI with our kernel: restart from the Kernel menu's command
 * (its confirmation dialog accepted) and run the notebook again; interrupt long cells, an awaited
 * one and a synchronous loop, from the Kernel menu's command and get an idle kernel that runs
 * the next cell. Screenshots: test-artifacts/e2e/kernel-*.png.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch } from "../../widgets/harness/driver.js";
import { canRun } from "../helpers/require.js";
import { kernelLog, startLab, type Lab } from "./helpers/lab.js";
import { LabPage } from "./helpers/lab-page.js";
import { e2ePrerequisites } from "./helpers/suite.js";

const { host, reason } = e2ePrerequisites();
const run = canRun(host !== null, reason);

const NOTEBOOK = "notebooks/01-quickstart.ipynb";

describe.runIf(run)("kernel restart and interrupt from JupyterLab's UI", () => {
  let lab: Lab;
  let browser: Browser;
  let lp: LabPage;

  beforeAll(async () => {
    lab = await startLab(host!);
    browser = await launch();
    lp = await LabPage.open(browser, lab, NOTEBOOK);
    await lp.runAll();
    expect(await lp.problems(), kernelLog(lab).slice(-2000)).toEqual([]);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
  }, 30_000);

  it("Kernel > Restart (dialog accepted) gives a fresh kernel, and Run All works again", { timeout: 180_000 }, async () => {
    const marked = await lp.runCell(`(globalThis as any).e2eMarker = 42; console.log(String((globalThis as any).e2eMarker))`);
    expect(marked.stdout.trim()).toBe("42");
    const before = await lp.kernel();
    await lp.recordStatuses();
    await lp.command("kernelmenu:restart");
    expect(await lp.acceptDialog()).toMatch(/Restart Kernel/i);
    const statuses = await lp.statusPassed("restarting");
    expect(statuses.at(-1)).toBe("idle");
    const after = await lp.kernel();
    expect(after?.name).toBe("medicosam");
    expect(after?.id).toBe(before?.id); // a restart keeps the kernel's id; the state is new:
    const fresh = await lp.runCell(`console.log(String((globalThis as any).e2eMarker))`);
    expect(fresh.stdout.trim()).toBe("undefined");
    await lp.screenshot("kernel-restarted");

    await lp.runAll();
    expect(await lp.problems()).toEqual([]);
    const counts = await lp.executionCounts();
    // Run All numbers the notebook's cells from 2 (the check cell above ran first after the restart).
    expect(counts[0]).toBe(2);
  });

  for (const [what, source] of [
    ["an awaited cell", `await new Promise((resolve) => setTimeout(resolve, 600_000)); console.log("not interrupted");`],
    ["a synchronous loop", `const e2eT0 = Date.now(); while (Date.now() - e2eT0 < 600_000) {} console.log("not interrupted");`],
  ] as const) {
    it(`Kernel > Interrupt stops ${what}; the kernel is idle and runs the next cell`, { timeout: 90_000 }, async () => {
      const index = await lp.startCell(source);
      await lp.kernelStatus("busy");
      await new Promise((r) => setTimeout(r, 500)); // well inside the cell
      await lp.command("kernelmenu:interrupt");
      const stopped = await lp.finished(index, 30_000);
      expect(stopped.stdout).not.toContain("not interrupted");
      expect(stopped.error).toMatch(/Interrupt/);
      await lp.screenshot(`kernel-interrupted-${what.replace(/\W+/g, "-")}`);
      const next = await lp.runCell(`console.log(6 * 7)`);
      expect(next.stdout.trim()).toBe("42");
    });
  }

  it("no page errors, no console errors beyond the allow-list", () => {
    expect(lp.unexpectedErrors()).toEqual([]);
  });
});
