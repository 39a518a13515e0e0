/**
 * Click-to-mask latency of the segmentation canvas in a real browser: the time from the
 * user's click (pointer up, in the page) to the mask drawn on the canvas, through
 * jupyter server, our kernel, the decoder, and back. Same setup as tests/widget-browser.test.ts
 * (Debian's jupyter server and Chromium, the built labextension), on a 512x512 phantom.
 *
 * Uses the trained demo model when models/demo/model.json exists, else the analytic test
 * model; MEDICOSAM_BENCH_WIDGET_MODEL=<model folder> picks another (e.g. the ViT-B-sized
 * bench/.models/vit-b-random, whose decoder costs what MedicoSAM's does). Reports the kernel-side decoder time of the same clicks beside it ("most of the
 * latency should be the decoder"). Target: median under 100 ms.
 *
 * Then brush strokes on the same page (B, 40 pointer moves across the 512x512 slice, one stroke
 * at a time, each undone): the view's own time per frame while painting (stamping + drawing;
 * 60 fps needs <= 16 ms) and the stroke's latency (pointer up -> the kernel's mask on screen).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { CHROMIUM, CanvasPage, clickLatencies, launch, preparePage } from "../widgets/harness/driver.js";
import { haveJupyterServer, REPO, startJupyterServer, type JupyterServer } from "../widgets/harness/jupyter-server.js";
import { phantomCell } from "../widgets/harness/phantom.js";

interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

function summarize(values: number[]): Summary {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  const round = (x: number) => Math.round(x * 10) / 10;
  return { n: v.length, median: round(v[Math.floor(v.length / 2)]!), p95: round(at(0.95)), min: round(v[0]!), max: round(v[v.length - 1]!) };
}

/** Which model the clicks go to: the demo model when built, else the analytic one; `modelDir` overrides. */
function pickModel(modelDir?: string): { dir: string; name: string } {
  if (modelDir) return { dir: modelDir, name: modelDir };
  const demo = join(REPO, "models", "demo");
  if (existsSync(join(demo, "model.json"))) return { dir: demo, name: "demo" };
  return { dir: join(REPO, "models", "analytic"), name: "analytic (demo model not built yet)" };
}

/** `strokes` brush strokes on the current object, each undone: frame times of all of them and each stroke's latency. */
async function brushStrokes(cp: CanvasPage, id: string, strokes: number): Promise<{ frames: number[]; latency: number[] }> {
  const before = (await cp.latencies()).length;
  await cp.root(id).focus();
  await cp.page.keyboard.press("b");
  const frames: number[] = [];
  for (let n = 0; n < strokes; n++) {
    const y = 120 + 15 * n;
    frames.push(...(await cp.stroke(id, [80, y], [430, y + 40], 40)));
    await cp.idle(id);
    await cp.page.keyboard.press("Control+z");
    await cp.idle(id);
  }
  await cp.page.keyboard.press("b");
  const latency = (await cp.latencies()).slice(before).filter((l) => l.action === "stroke").map((l) => l.ms);
  return { frames, latency };
}

export async function benchWidget(options: { quick?: boolean; modelDir?: string } = {}): Promise<Record<string, unknown>> {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM} (apt-get install chromium)` };
  if (!(await haveJupyterServer())) return { skipped: "Debian's jupyter server is missing (apt-get install python3-jupyter-server)" };
  const picked = pickModel(options.modelDir ?? process.env.MEDICOSAM_BENCH_WIDGET_MODEL);
  const modelDir = picked.dir;
  const clicks = options.quick ? 10 : 30;
  let server: JupyterServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startJupyterServer();
    const { url } = await preparePage(server);
    browser = await launch();
    const { cp } = await CanvasPage.open(browser, server, url);
    const cell = await cp.exec(phantomCell(modelDir));
    const id = cell.widgets[0]!;
    await cp.idle(id);
    // Warm-up: the first clicks pay for JIT and first-use allocations in both processes.
    await clickLatencies(cp, id, 3, (n) => [200 + 10 * n, 250]);
    const skip = await cp.json<number>("console.log(JSON.stringify(w.timings.decoderMs.length))");
    const ms = await clickLatencies(cp, id, clicks, (n) => [120 + 9 * (n % 30), 300 + 3 * Math.floor(n / 30)]);
    const decoder = await cp.json<number[]>(`console.log(JSON.stringify(w.timings.decoderMs.slice(${skip})))`);
    const latency = summarize(ms);
    const decode = summarize(decoder);
    const strokes = options.quick ? 5 : 15;
    const brush = await brushStrokes(cp, id, strokes);
    return {
      model: picked.name,
      image: "512x512",
      "click-to-mask ms": latency,
      "decoder in kernel ms": decode,
      "decoder share of median %": Math.round((100 * decode.median) / latency.median),
      "meets 100 ms target": latency.median < 100,
      "brush frame ms": summarize(brush.frames),
      "brush meets 16 ms per frame (p95)": summarize(brush.frames).p95 <= 16,
      "stroke-to-mask ms": summarize(brush.latency),
    };
  } finally {
    await browser?.close();
    await server?.stop();
  }
}
