/**
 * plotly.js charts in notebook outputs, offline.
 *
 * What a chart's mime bundle holds, and why:
 * - `text/html`: a div showing the static picture (an SVG we render ourselves, as an <img>), and
 *   a script that replaces it with the interactive chart once plotly.js is on the page. Untrusted
 *   notebooks, GitHub and exported HTML without scripts keep showing the picture.
 * - `image/png` (default) or `image/svg+xml`: the same picture for front ends that do not render
 *   HTML at all.
 * - `application/vnd.plotly.v1+json` only when asked (`plotlyJson: true`): it renders in VS Code
 *   and in JupyterLab with the plotly extension, and is dead weight everywhere else.
 * - `text/plain`: one line naming the chart.
 *
 * The 1.5 MB plotly.js bundle (cartesian build) is inlined once per kernel process, in the first
 * chart's HTML; later charts use `window.Plotly`. Each chart's script draws at once if plotly.js
 * is there, and otherwise waits for the bundle's "ready" event. That covers: live sessions; the
 * reloaded page and nbconvert's HTML export (outputs run in document order, the bundle's first);
 * lazily rendered (windowed) notebooks, where the bundle's output may render after a later chart.
 * If the bundle's output was cleared or deleted, charts keep their static picture:
 * `plotlyLibrary()` displays the bundle again (put it at the top of a notebook meant to be
 * exported), and `resetPlotlyBundle()` makes the next chart inline it again.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { svgToPng } from "./png.js";
import { figureSize, figureTitle, typedArraysAsArrays, type PlotlyFigure } from "./plotly-figure.js";
import { renderFigureSvg } from "./plotly-svg.js";

export type { PlotlyFigure, PlotlyTrace } from "./plotly-figure.js";

/** A mime bundle: mime type -> data (strings; binary data base64-encoded, as Jupyter wants). */
export type MimeBundle = Record<string, string | object>;

export const DISPLAY = Symbol.for("Jupyter.display");

const READY_EVENT = "medicosam-plotly-ready";

export interface PlotlyDisplayOptions {
  /** "once" per kernel process (default), "always" (self-contained output), or "never". */
  readonly bundle?: "once" | "always" | "never";
  /** The stand-alone static picture: PNG (default), SVG, or none. */
  readonly staticImage?: "png" | "svg" | "none";
  /** Also emit `application/vnd.plotly.v1+json` (VS Code, JupyterLab with the plotly extension). */
  readonly plotlyJson?: boolean;
}

let defaults: PlotlyDisplayOptions = {};

/**
 * Options every chart of this process starts from, e.g. `setPlotlyDefaults({ plotlyJson: true })`
 * once in VS Code, whose notebook renders plotly's JSON mime type natively.
 */
export function setPlotlyDefaults(options: PlotlyDisplayOptions): void {
  defaults = { ...options };
}

let bundleSource: string | undefined;
let bundleVersion: string | undefined;
let bundleSent = false;

/** plotly.js's cartesian bundle, read once from node_modules. */
export function plotlyBundleSource(): { source: string; version: string } {
  if (bundleSource === undefined) {
    const require = createRequire(import.meta.url);
    let path: string;
    try {
      path = require.resolve("plotly.js-cartesian-dist-min");
    } catch {
      throw new Error(
        "plotly.js-cartesian-dist-min is not installed; run `npm install` in the medicosam package (it is a dependency).",
      );
    }
    const src = readFileSync(path, "utf8");
    // The bundle goes inside a <script> element: these sequences would end or confuse it.
    if (/<\/script|<!--/i.test(src)) {
      throw new Error(`${path} contains '</script' or '<!--' and cannot be inlined in HTML safely; pin another version.`);
    }
    const version = /plotly\.js[^\n]*?v(\d+\.\d+\.\d+)/.exec(src.slice(0, 300))?.[1] ?? "unknown";
    bundleSource = src;
    bundleVersion = version;
  }
  return { source: bundleSource, version: bundleVersion! };
}

/** The next chart inlines the bundle again (e.g. after clearing all outputs). */
export function resetPlotlyBundle(): void {
  bundleSent = false;
}

/**
 * HTML that defines `window.Plotly` (unless it exists) and announces it. The bundle runs inside
 * a function whose `module`, `exports` and `define` are undefined, so a page with RequireJS or a
 * CommonJS shim (classic notebook, some exporters) still gets the global.
 */
export function plotlyBundleHtml(): string {
  const { source, version } = plotlyBundleSource();
  return (
    `<script type="text/javascript">/* plotly.js ${version} (cartesian), inlined by medicosam */\n` +
    `if (!window.Plotly) { (function (module, exports, define) {\n${source}\n}).call(window); }\n` +
    `window.dispatchEvent(new Event(${JSON.stringify(READY_EVENT)}));\n</script>`
  );
}

/** A displayable that loads plotly.js into the page; put it in a notebook's first cell. */
export function plotlyLibrary(): { [DISPLAY](): MimeBundle } {
  return {
    [DISPLAY]() {
      bundleSent = true;
      const { version } = plotlyBundleSource();
      return { "text/html": plotlyBundleHtml(), "text/plain": `plotly.js ${version} loaded for interactive charts` };
    },
  };
}

/** JSON for a <script> body: no "</" (ends the element) and no U+2028/9 (old JS line breaks). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value, typedArraysAsArrays)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The chart's HTML: the static SVG as an <img>, replaced by the interactive chart when plotly.js
 * is (or becomes) available. `withBundle` prepends the inlined library.
 */
export function chartHtml(fig: PlotlyFigure, svg: string, withBundle: boolean): string {
  const id = `medicosam-plot-${randomBytes(6).toString("hex")}`;
  const { width, height } = figureSize(fig);
  const title = figureTitle(fig) || "chart";
  const img = `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
  const payload = { data: fig.data, layout: { ...fig.layout, width, height }, config: { responsive: false, displaylogo: false, ...fig.config } };
  const script =
    `<script type="text/javascript">(function () {\n` +
    `  var fig = ${scriptJson(payload)};\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(${JSON.stringify(id)});\n` +
    `    if (!el || !window.Plotly || el.getAttribute("data-drawn")) return !!(el && el.getAttribute("data-drawn"));\n` +
    `    el.setAttribute("data-drawn", "1");\n` +
    `    el.innerHTML = "";\n` +
    `    window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);\n` +
    `    return true;\n` +
    `  }\n` +
    `  if (draw()) return;\n` +
    `  function onReady() { if (draw()) window.removeEventListener(${JSON.stringify(READY_EVENT)}, onReady); }\n` +
    `  window.addEventListener(${JSON.stringify(READY_EVENT)}, onReady);\n` +
    `})();</script>`;
  return (
    (withBundle ? plotlyBundleHtml() + "\n" : "") +
    `<div id="${id}" class="medicosam-plot" style="width:${width}px;max-width:100%">` +
    `<img src="${img}" width="${width}" height="${height}" style="max-width:100%;height:auto" ` +
    `alt="${escapeAttr(title)} (static picture; the interactive chart needs plotly.js and a trusted notebook)"/></div>\n` +
    script
  );
}

/** The full mime bundle of a chart (see the module comment for what each entry is for). */
export async function plotlyMimeBundle(fig: PlotlyFigure, chartOptions: PlotlyDisplayOptions = {}): Promise<MimeBundle> {
  const options = { ...defaults, ...chartOptions };
  const mode = options.bundle ?? "once";
  if (mode !== "once" && mode !== "always" && mode !== "never") {
    throw new Error(`bundle must be 'once', 'always' or 'never', got '${String(mode)}'.`);
  }
  const svg = renderFigureSvg(fig);
  const withBundle = mode === "always" || (mode === "once" && !bundleSent);
  const html = chartHtml(fig, svg, withBundle);
  if (withBundle) bundleSent = true;
  const title = figureTitle(fig);
  const bundle: MimeBundle = {
    "text/html": html,
    "text/plain": `<plotly chart${title ? `: ${title}` : ""}, ${fig.data.length} trace(s)>`,
  };
  const staticImage = options.staticImage ?? "png";
  if (staticImage === "png") bundle["image/png"] = (await svgToPng(svg)).toString("base64");
  else if (staticImage === "svg") bundle["image/svg+xml"] = svg;
  else if (staticImage !== "none") throw new Error(`staticImage must be 'png', 'svg' or 'none', got '${String(staticImage)}'.`);
  if (options.plotlyJson) {
    bundle["application/vnd.plotly.v1+json"] = JSON.parse(
      JSON.stringify({ data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} }, typedArraysAsArrays),
    ) as object;
  }
  return bundle;
}

/** A figure that shows itself when it is a cell's value, or via `display(chart)`. */
export class PlotlyChart {
  constructor(
    readonly figure: PlotlyFigure,
    readonly options: PlotlyDisplayOptions = {},
  ) {}

  [DISPLAY](): Promise<MimeBundle> {
    return plotlyMimeBundle(this.figure, this.options);
  }

  /** The static picture as SVG text. */
  toSvg(): string {
    return renderFigureSvg(this.figure);
  }

  /** The static picture as PNG bytes (`scale` 2 for a sharper picture). */
  toPng(scale = 1): Promise<Buffer> {
    return svgToPng(renderFigureSvg(this.figure), scale);
  }

  /** A self-contained HTML page (bundle inlined), e.g. to save next to a results CSV. */
  toHtmlPage(): string {
    const title = figureTitle(this.figure) || "chart";
    return (
      `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeAttr(title)}</title></head><body>\n` +
      chartHtml(this.figure, renderFigureSvg(this.figure), true) +
      `\n</body></html>\n`
    );
  }
}
