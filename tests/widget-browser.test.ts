/**
 * The segmentation canvas end to end, in a real browser: Debian's `jupyter server` starts our
 * kernel (installed as `medicosam install` does), a test page renders the widget with
 * @jupyter-widgets/html-manager and the BUILT labextension, and headless Chromium clicks it.
 *
 * Every expectation comes from outside the code under test: masks from the analytic model's
 * formula (a disc of radius 64 / 96 in the 1024 frame around a click, holes of 48 around
 * negative clicks, cut by the box), colours from the documented blend of the view
 * (round(base * (1 - a) + colour * a) with the window's gray), labels from where we clicked.
 * Screenshots go to test-artifacts/widget-browser/. The click-to-mask latency is printed.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNifti } from "../kernel/io/nifti-read.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import { geometryFromAffine } from "../kernel/io/nifti-write.js";
import { LABEL_COLORS } from "../kernel/display/overlay.js";
import { CHROMIUM, CanvasPage, launch, preparePage } from "./browser/driver.js";
import { haveJupyterServer, REPO, startJupyterServer, type JupyterServer } from "./browser/jupyter-server.js";
import { canRun } from "./helpers/require.js";
import { phantomCell, PHANTOM, valueAt } from "./browser/phantom.js";

const available = existsSync(CHROMIUM) && (await haveJupyterServer());
const run = canRun(available, "the browser test needs Debian's chromium and python3-jupyter-server (see .ci/apt-packages.txt)");

// 512x512 image -> scale 2 to the 1024 frame: analytic radii 32 (single click), 48 (other prompts), 24 (negative holes).
const R_CLICK = 32;
const R_OTHER = 48;
const R_NEG = 24;
const HIGHLIGHT = [255, 214, 0] as const;
const OPACITY = 0.5;

/** The view's blend of one filled pixel over gray `g`. */
const blendOver = (g: number, c: readonly number[], a = OPACITY) => c.map((v) => Math.round(g * (1 - a) + v * a));
/** Gray the default window (full value range) gives value v. */
function gray(v: number): number {
  const [lo, hi] = PHANTOM.range;
  const g = ((v - lo) * 255) / (hi - lo);
  return Math.round(Math.min(255, Math.max(0, g)));
}

function near(actual: readonly number[], expected: readonly number[], tol = 2): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tol);
}

describe.runIf(run)("segmentation canvas in a browser", () => {
  let server: JupyterServer;
  let browser: Browser;
  let url: string;
  let cp: CanvasPage;
  let kernelId: string;
  let id: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "widget-browser-"));
    server = await startJupyterServer();
    ({ url } = await preparePage(server));
    browser = await launch();
    ({ cp, kernelId } = await CanvasPage.open(browser, server, url));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shows the phantom from a notebook cell", async () => {
    const r = await cp.exec(phantomCell(join(REPO, "models", "analytic")));
    expect(r.widgets).toHaveLength(1);
    id = r.widgets[0]!;
    await cp.idle(id);
    await cp.screenshot("01-shown");
    const [x, y] = PHANTOM.organs[0]!.center;
    expect(near(await cp.pixel(id, x, y), [gray(valueAt(x, y)), gray(valueAt(x, y)), gray(valueAt(x, y))])).toBe(true);
    expect(near(await cp.pixel(id, 5, 5), [gray(-1000), gray(-1000), gray(-1000)])).toBe(true);
  });
});
