/**
 * The chart HTML in a real browser (headless Chromium, `--dump-dom` after the scripts ran): the
 * inlined bundle draws charts; a chart whose bundle output comes later (lazy rendering) waits
 * for it; a page without the bundle keeps the static picture; AMD/CommonJS globals on the page
 * (RequireJS in classic notebooks and exports) do not hide `window.Plotly`.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { protocolFigure } from "../kernel/display/figures.js";
import { chartHtml, plotlyBundleHtml } from "../kernel/display/plotly.js";
import { renderFigureSvg } from "../kernel/display/plotly-svg.js";
import { canRun } from "./helpers/require.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const run = canRun(CHROMIUM !== undefined, "Chromium is not installed (Debian package chromium)");

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "medicosam-plot-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Loads the page in headless Chromium and returns the DOM after its scripts ran. */
async function renderedDom(name: string, body: string): Promise<string> {
  const file = join(dir, `${name}.html`);
  await writeFile(file, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>\n${body}\n</body></html>`);
  const { stdout } = await promisify(execFile)(
    CHROMIUM!,
    ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom", `file://${file}`],
    { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  return stdout;
}

const count = (s: string, what: string) => s.split(what).length - 1;

function chart(): string {
  const fig = protocolFigure([
    { model: "A", start: "point", round: 0, dice: 0.5, iou: 0.4, datasets: 1 },
    { model: "A", start: "point", round: 1, dice: 0.7, iou: 0.6, datasets: 1 },
  ]);
  return chartHtml(fig, renderFigureSvg(fig), false);
}

describe.runIf(run)("chart HTML in Chromium", () => {
  it("draws charts after the inlined bundle, and charts that come before it", async () => {
    const dom = await renderedDom("order", [chart(), plotlyBundleHtml(), chart(), chart()].join("\n"));
    expect(count(dom, 'class="plot-container plotly"')).toBe(3);
    expect(count(dom, "static picture")).toBe(0);
  }, 90_000);

  it("keeps the static picture when plotly.js never arrives", async () => {
    const dom = await renderedDom("nobundle", chart());
    expect(count(dom, 'class="plot-container plotly"')).toBe(0);
    expect(dom).toContain('src="data:image/svg+xml;base64,');
  }, 90_000);

  it("defines window.Plotly even on a page with AMD and CommonJS globals", async () => {
    const shims = `<script>window.define = function () { throw new Error("AMD define called"); }; window.define.amd = {};
      window.module = { exports: {} }; window.exports = window.module.exports;</script>`;
    const dom = await renderedDom("amd", [shims, plotlyBundleHtml(), chart()].join("\n"));
    expect(count(dom, 'class="plot-container plotly"')).toBe(1);
  }, 90_000);
});
