/**
 * Each tutorial notebook in a real JupyterLab 4 (the test host of tests/e2e/lab-host, served by
 * Debian's jupyter_server): opened from the file tree URL, run with Lab's "Run All" on our kernel
 * (installed by `medicosam install --prefix`), and checked in the rendered page: no error or
 * stderr output, every PNG actually decoded by the browser (naturalWidth > 0), every plotly chart
 * actually drawn by plotly.js (its svg.main-svg in the DOM), no page errors, no console errors
 * beyond CONSOLE_ALLOW. Also: both widget plugins (the manager and ours) active, and each
 * prebuilt extension with its own webpack chunk global (tests/e2e/README.md, "How the host is built").
 * Screenshots: test-artifacts/e2e/tutorial-<name>.png.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch } from "../../widgets/harness/driver.js";
import { canRun } from "../helpers/require.js";
import { startLab, kernelLog, type Lab } from "./helpers/lab.js";
import { LabPage, MANAGER_PLUGIN, OUR_PLUGIN } from "./helpers/lab-page.js";
import { e2ePrerequisites } from "./helpers/suite.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;

const { host, reason } = e2ePrerequisites();
const run = canRun(host !== null, reason);

const NOTEBOOKS = ["01-quickstart", "02-volumes", "03-embeddings", "04-interactive-evaluation", "05-canvas", "06-automatic", "07-semantic", "08-cohort"] as const;
/** Tutorials whose text promises plotly charts (03: explained variance, scatter; 04 and 08: Dice per round). */
const WITH_CHARTS = new Set(["03-embeddings", "04-interactive-evaluation", "08-cohort"]);

describe.runIf(run)("the tutorials in JupyterLab 4", () => {
  let lab: Lab;
  let browser: Browser;
  let lp: LabPage | undefined;

  beforeAll(async () => {
    lab = await startLab(host!);
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
  }, 30_000);

  it("the prebuilt extensions each have their own webpack chunk global", () => {
    const globals = (dir: string) => {
      const statics = join(dir, "static");
      const text = readdirSync(statics).filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(statics, f), "utf8")).join("\n");
      return [...new Set(text.match(/webpackChunk[A-Za-z0-9_$]+/g) ?? [])];
    };
    const manager = globals(join(host!.labextensions, "@jupyter-widgets", "jupyterlab-manager"));
    const ours = globals(join(lab.root, "..", "prefix", "share", "jupyter", "labextensions", "medicosam-widgets"));
    expect(manager).toEqual(["webpackChunk_jupyter_widgets_jupyterlab_manager"]);
    expect(ours).toEqual(["webpackChunkmedicosam_widgets"]);
  });

  for (const name of NOTEBOOKS) {
    it(`${name}: Run All, no errors, pictures and charts drawn`, { timeout: 240_000 }, async () => {
      if (lp) {
        // The previous notebook's kernel would keep running (and holding its model) otherwise.
        await lp.close();
        expect(await lab.shutdownKernels()).toBe(1);
      }
      lp = await LabPage.open(browser, lab, `notebooks/${name}.ipynb`);
      expect(await lp.pluginActivated(MANAGER_PLUGIN), "the widget manager plugin is active").toBe(true);
      expect(await lp.pluginActivated(OUR_PLUGIN), "our widget plugin is active").toBe(true);
      expect((await lp.kernel())?.name).toBe("medicosam");

      const t0 = performance.now();
      await lp.runAll();
      console.log(`${name}: Run All in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await lp.screenshot(`tutorial-${name}`);
      expect(await lp.problems(), `error/stderr outputs; kernel log:\n${kernelLog(lab).slice(-3000)}`).toEqual([]);

      const outputs = (await lp.outputs()).flat();
      const html = (o: { data?: Record<string, unknown> }) => (typeof o.data?.["text/html"] === "string" ? (o.data["text/html"] as string) : "");
      // Lab renders the richest mime type: PNG-only outputs as images, HTML ones (grids, charts) as HTML.
      const pngOnly = outputs.filter((o) => o.data && "image/png" in o.data && !("text/html" in o.data)).length;
      const htmlImages = outputs.filter((o) => /<img\b/.test(html(o)) && !html(o).includes('class="medicosam-plot"')).length;
      const charts = outputs.filter((o) => html(o).includes('class="medicosam-plot"')).length;

      // Every <img> in an output or a markdown cell: scrolled to, decoded, with a real size.
      const images: { where: string; src: string; ok: boolean }[] = await lp.page.evaluate(async () => {
        const result = [];
        for (const img of [...document.querySelectorAll(".jp-OutputArea-output img, .jp-MarkdownOutput img")]) {
          img.scrollIntoView();
          try {
            await img.decode();
          } catch {
            // reported below as not ok
          }
          const where = img.closest(".jp-MarkdownOutput") ? "markdown" : img.closest(".jp-RenderedImage") ? "png" : "html";
          result.push({ where, src: String(img.src).slice(0, 40), ok: img.complete && img.naturalWidth > 0 });
        }
        return result;
      });
      expect(images.filter((i) => !i.ok), "images that did not decode").toEqual([]);
      expect(images.filter((i) => i.where === "png").length, "every PNG-only output is shown as an image").toBe(pngOnly);
      expect(images.filter((i) => i.where === "html").length, "HTML outputs with pictures show them").toBeGreaterThanOrEqual(htmlImages);
      expect(pngOnly + htmlImages, `${name} draws pictures`).toBeGreaterThan(0);

      // Every chart: plotly.js replaced the static picture with its SVG.
      if (WITH_CHARTS.has(name)) expect(charts, `${name} promises plotly charts`).toBeGreaterThan(0);
      await lp.page.waitForFunction(
        (n) => document.querySelectorAll(".medicosam-plot[data-drawn='1'] svg.main-svg").length > 0 || n === 0,
        charts,
        { timeout: 20_000 },
      );
      const drawn = await lp.page.evaluate(() => [...document.querySelectorAll(".medicosam-plot")].map((d: any) => d.querySelectorAll("svg.main-svg").length > 0));
      expect(drawn.length, "chart outputs rendered as HTML").toBe(charts);
      expect(drawn.filter((d) => !d).length, "charts left as static pictures").toBe(0);
      if (charts > 0) {
        await lp.page.locator(".medicosam-plot").first().scrollIntoViewIfNeeded();
        await lp.screenshot(`tutorial-${name}-chart`);
      }

      expect(lp.unexpectedErrors(), "console/page errors").toEqual([]);
    });
  }
});
