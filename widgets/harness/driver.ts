/**
 * Drives the segmentation canvas in headless Chromium (Debian's, through playwright-core):
 * builds the test page, opens it against a jupyter server, and speaks in image pixels:
 * `click(x, y)` clicks the screen point where image pixel (x, y) is drawn, `pixel(x, y)` reads
 * the canvas colour there. The mapping comes from the data attributes the view writes on its
 * canvas (scale, offsets, aspect) after every draw.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium, type Browser, type ConsoleMessage, type Locator, type Page } from "playwright-core";
import type { JupyterServer } from "./jupyter-server.js";
import { REPO } from "./jupyter-server.js";

/**
 * Callbacks passed to page.evaluate run in the browser. This file is also compiled with the
 * kernel's settings (bench/widget.ts imports it), which have no DOM types on purpose: the few
 * browser globals the callbacks use are declared here, for this module only.
 */
interface Harness {
  connect(name: string, kernelId?: string): Promise<string>;
  execute(code: string): Promise<ExecResult>;
  show(modelId: string): Promise<void>;
  sendRaw(modelId: string, content: unknown): Promise<void>;
  latencies: { seq: number; action: string; ms: number }[];
  documentKeys: string[];
}
interface BrowserElement {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  width: number;
  height: number;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; top: number; width: number; height: number };
  getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
declare const window: { harness: Harness };
declare const document: {
  body: BrowserElement;
  activeElement: BrowserElement | null;
  querySelector(selector: string): BrowserElement | null;
};
declare function requestAnimationFrame(callback: () => void): number;

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const LABEXTENSION_DIR = join(REPO, "dist", "labextension");
export const ARTIFACTS = join(REPO, "test-artifacts", "widget-browser");

/** The canvas's folders each build reads: the labextension bundles browser/ and common/, the kernel build compiles kernel/ and common/. */
const CANVAS_FOLDERS = { browser: ["browser", "common"], kernel: ["kernel", "common"] } as const;

/** A test of stale build output would test old code: say so instead. */
function checkFresh(output: string, what: string, fix: string, side: "browser" | "kernel"): void {
  if (!existsSync(output)) throw new Error(`${output} is missing: run \`${fix}\``);
  const built = statSync(output).mtimeMs;
  const canvas = join(REPO, "widgets", "segment-canvas");
  const newer = CANVAS_FOLDERS[side].flatMap((folder) =>
    readdirSync(join(canvas, folder), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts") && statSync(join(canvas, folder, f)).mtimeMs > built)
      .map((f) => `${folder}/${f}`),
  );
  if (newer.length) throw new Error(`${what} is older than widgets/segment-canvas/${newer.join(", ")}: run \`${fix}\` (npm test does)`);
}

/** Bundles the page and copies the built labextension next to it, under the server's static folder. */
export async function preparePage(server: JupyterServer): Promise<{ url: string; extension: string }> {
  const builtManifest = join(LABEXTENSION_DIR, "package.json");
  if (!existsSync(builtManifest)) throw new Error(`${builtManifest} is missing: run \`npm run build:widgets\` (npm test's build does)`);
  checkFresh(builtManifest, "the labextension", "npm run build:widgets", "browser");
  checkFresh(join(REPO, "dist", "widgets", "segment-canvas", "kernel", "canvas.js"), "the compiled kernel side", "npm run build", "kernel");
  const dir = join(server.staticDir, "mtest");
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(REPO, "widgets", "harness", "page", "main.mts")],
    outfile: join(dir, "page.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    loader: { ".css": "empty", ".svg": "empty", ".woff": "empty", ".woff2": "empty", ".ttf": "empty", ".eot": "empty" },
    define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
    // html-manager's embed code assigns webpack's public path; give it a global to assign to.
    banner: { js: "var __webpack_public_path__ = '';" },
    logLevel: "error",
  });
  writeFileSync(
    join(dir, "page.html"),
    `<!doctype html><html><head><meta charset="utf-8"><title>MedicoSAM widget test</title>
<style>body{font-family:sans-serif;margin:8px} .output{margin:8px 0}</style></head>
<body><div id="outputs"></div><script src="page.js"></script></body></html>`,
  );
  cpSync(LABEXTENSION_DIR, join(dir, "labextension"), { recursive: true });
  const manifest = JSON.parse(readFileSync(builtManifest, "utf8")) as { name: string; jupyterlab: { _build: { load: string } } };
  const extension = `/static/mtest/labextension/${manifest.jupyterlab._build.load}`;
  const url = `${server.url}/static/mtest/page.html?token=${server.token}&extension=${encodeURIComponent(extension)}&extensionName=${encodeURIComponent(manifest.name)}`;
  return { url, extension };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export interface ExecResult {
  status: string;
  stdout: string;
  stderr: string;
  error: string;
  widgets: string[];
}

/** One open page with the harness, and the canvas helpers. */
export class CanvasPage {
  readonly consoleErrors: string[] = [];

  constructor(
    readonly page: Page,
    readonly server: JupyterServer,
  ) {
    page.on("console", (m: ConsoleMessage) => {
      if (m.type() === "error") this.consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => this.consoleErrors.push(`pageerror: ${e.message}`));
  }

  static async open(browser: Browser, server: JupyterServer, url: string, kernelId?: string): Promise<{ cp: CanvasPage; kernelId: string }> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1 });
    const cp = new CanvasPage(page, server);
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.ready === "true");
    const id = await page.evaluate(([name, k]) => window.harness.connect(name!, k ?? undefined), [server.kernelName, kernelId ?? null] as const);
    return { cp, kernelId: id };
  }

  async exec(code: string, timeoutMs = 60_000): Promise<ExecResult> {
    const result = await this.page.evaluate((c) => window.harness.execute(c), code);
    void timeoutMs;
    if (result.status !== "ok") throw new Error(`cell failed (${result.status}):\n${result.error}\n${result.stderr}\n--- code ---\n${code}`);
    return result;
  }

  /** Runs a cell that prints one JSON value and returns it. */
  async json<T>(code: string): Promise<T> {
    const r = await this.exec(code);
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`expected JSON on the last stdout line, got:\n${r.stdout}\n${r.stderr}`);
    }
  }

  /** The canvas widget of model `modelId` (the n-th view of it). */
  root(modelId: string, n = 0): Locator {
    return this.page.locator(`.output[data-model-id="${modelId}"] [data-testid="segment-canvas"]`).nth(n);
  }

  canvas(modelId: string, n = 0): Locator {
    return this.root(modelId, n).locator('[data-testid="canvas"]');
  }

  /** Client (CSS px) coordinates of the centre of image pixel (x, y), with the canvas scrolled into view. */
  async screenOf(modelId: string, x: number, y: number): Promise<{ cx: number; cy: number }> {
    await this.canvas(modelId).scrollIntoViewIfNeeded();
    return this.canvas(modelId).evaluate(
      (c, [px, py]) => {
        const d = (c as unknown as BrowserElement).dataset;
        const r = (c as unknown as BrowserElement).getBoundingClientRect();
        const scale = Number(d.scale);
        return { cx: r.left + Number(d.offsetX) + (px! + 0.5) * scale, cy: r.top + Number(d.offsetY) + (py! + 0.5) * scale * Number(d.aspect) };
      },
      [x, y],
    );
  }

  /** RGB the canvas shows at the centre of image pixel (x, y). */
  async pixel(modelId: string, x: number, y: number): Promise<[number, number, number]> {
    return this.canvas(modelId).evaluate(
      (c, [px, py]) => {
        const cv = c as unknown as BrowserElement;
        const d = cv.dataset;
        const dpr = cv.width / cv.getBoundingClientRect().width;
        const scale = Number(d.scale);
        const sx = Math.floor((Number(d.offsetX) + (px! + 0.5) * scale) * dpr);
        const sy = Math.floor((Number(d.offsetY) + (py! + 0.5) * scale * Number(d.aspect)) * dpr);
        const v = cv.getContext("2d")!.getImageData(sx, sy, 1, 1).data;
        return [v[0]!, v[1]!, v[2]!] as [number, number, number];
      },
      [x, y],
    );
  }

  async click(modelId: string, x: number, y: number, options: { shift?: boolean; button?: "left" | "right" } = {}): Promise<void> {
    const { cx, cy } = await this.screenOf(modelId, x, y);
    if (options.shift) await this.page.keyboard.down("Shift");
    await this.page.mouse.click(cx, cy, { button: options.button ?? "left" });
    if (options.shift) await this.page.keyboard.up("Shift");
  }

  async drag(modelId: string, from: [number, number], to: [number, number]): Promise<void> {
    const a = await this.screenOf(modelId, ...from);
    const b = await this.screenOf(modelId, ...to);
    await this.page.mouse.move(a.cx, a.cy);
    await this.page.mouse.down();
    for (let i = 1; i <= 5; i++) await this.page.mouse.move(a.cx + ((b.cx - a.cx) * i) / 5, a.cy + ((b.cy - a.cy) * i) / 5);
    await this.page.mouse.up();
  }

  /**
   * A brush or eraser stroke from image pixel `from` to `to` in `moves` pointer moves (the tool
   * must be on). Returns the view's own time of each frame drawn during the stroke (stamping +
   * drawing, ms), which it records in the root's data-last-stroke-frames.
   */
  async stroke(modelId: string, from: [number, number], to: [number, number], moves = 30): Promise<number[]> {
    const a = await this.screenOf(modelId, ...from);
    const b = await this.screenOf(modelId, ...to);
    await this.page.mouse.move(a.cx, a.cy);
    await this.page.mouse.down();
    for (let i = 1; i <= moves; i++) {
      await this.page.mouse.move(a.cx + ((b.cx - a.cx) * i) / moves, a.cy + ((b.cy - a.cy) * i) / moves);
      await this.nextFrame();
    }
    await this.page.mouse.up();
    const frames = (await this.root(modelId).getAttribute("data-last-stroke-frames")) ?? "";
    return frames ? frames.split(",").map(Number) : [];
  }

  /** Waits until the view is not busy (no pending action, kernel status ready). */
  async idle(modelId: string, timeout = 30_000): Promise<void> {
    await this.root(modelId).locator("xpath=.").evaluate(() => undefined);
    await this.page.waitForFunction(
      (id) => {
        const r = document.querySelector(`.output[data-model-id="${id}"] [data-testid="segment-canvas"]`);
        return r?.dataset.busy === "false" && r.dataset.status === "ready";
      },
      modelId,
      { timeout },
    );
    // let the last frame paint
    await this.nextFrame();
  }

  /** Keys that reached the document (past the widget), in order. */
  documentKeys(): Promise<string[]> {
    return this.page.evaluate(() => window.harness.documentKeys.slice());
  }

  /** data-testid of the focused element, or null. */
  focusedTestId(): Promise<string | null> {
    return this.page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? null);
  }

  /** Sends a raw custom message from the page's model, as a buggy front end could. */
  sendRaw(modelId: string, content: unknown): Promise<void> {
    return this.page.evaluate(([m, c]) => window.harness.sendRaw(m as string, c), [modelId, content] as const);
  }

  /** Shows (another) view of existing models. */
  async show(...modelIds: string[]): Promise<void> {
    await this.page.evaluate((ids) => Promise.all(ids.map((m) => window.harness.show(m))).then(() => undefined), modelIds);
  }

  /** Waits until attribute `attr` of the canvas of `modelId` satisfies `ok` (given as a number/string comparison). */
  async waitForCanvas(modelId: string, attr: string, op: "==" | ">", value: string | number, timeout = 10_000): Promise<void> {
    await this.page.waitForFunction(
      ([m, a, o, v]) => {
        const got = document.querySelector(`.output[data-model-id="${m}"] [data-testid="canvas"]`)?.getAttribute(a as string);
        if (got === null || got === undefined) return false;
        return o === ">" ? Number(got) > Number(v) : got === String(v);
      },
      [modelId, attr, op, value] as const,
      { timeout },
    );
  }

  /** Waits until the widget's error box says something matching `pattern` (source of a RegExp). */
  async waitForError(modelId: string, pattern: string, timeout = 10_000): Promise<void> {
    await this.page.waitForFunction(
      ([m, p]) => new RegExp(p as string).test(document.querySelector(`.output[data-model-id="${m}"] [data-testid="error"]`)?.textContent ?? ""),
      [modelId, pattern] as const,
      { timeout },
    );
  }

  /** Moves a range input of the widget as a user would (value + input event). */
  async setRange(modelId: string, testId: string, value: number): Promise<void> {
    await this.root(modelId)
      .locator(`[data-testid="${testId}"]`)
      .evaluate((input, v) => {
        const el = input as unknown as { value: string; dispatchEvent(e: unknown): boolean; ownerDocument: { defaultView: { Event: new (t: string, o: object) => unknown } } };
        el.value = String(v);
        el.dispatchEvent(new el.ownerDocument.defaultView.Event("input", { bubbles: true }));
      }, value);
  }

  /** Resolves after the browser painted the next frame. */
  async nextFrame(): Promise<void> {
    await this.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  async latencies(): Promise<{ seq: number; action: string; ms: number }[]> {
    return this.page.evaluate(() => window.harness.latencies.slice());
  }
}

/** Click-to-mask latencies (ms) of `clicks` single clicks at `points(n)`, each removed again with Backspace. */
export async function clickLatencies(cp: CanvasPage, modelId: string, clicks: number, points: (n: number) => [number, number]): Promise<number[]> {
  const before = (await cp.latencies()).length;
  for (let n = 0; n < clicks; n++) {
    await cp.click(modelId, ...points(n));
    await cp.idle(modelId);
    await cp.page.keyboard.press("Backspace");
    await cp.idle(modelId);
  }
  return (await cp.latencies())
    .slice(before)
    .filter((l) => l.action === "add_point")
    .map((l) => l.ms);
}
