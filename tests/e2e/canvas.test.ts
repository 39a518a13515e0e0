/**
 * The canvas tutorial's widget in a real JupyterLab 4, driven with the mouse and keys: a CT
 * volume canvas created in a cell of notebooks/05-canvas.ipynb (after the notebook's own first
 * cell, which picks the model: "analytic" or "demo", both work), then
 *   click inside the liver -> a mask is drawn; Shift+click a negative point -> the mask shrinks;
 *   C commits it; drag a box around the spleen -> mask; C commits it; ArrowUp changes the slice;
 *   click the liver there and Shift+S propagates it through the volume; Ctrl+Z undoes the
 *   propagation; the notebook is saved and the page reloaded -> the widget comes back from the
 *   kernel with both committed labels drawn; a cell saves the labels to NIfTI and reads them back.
 * Expectations come from outside the widget: organ positions from the sample's label map, the
 * kernel's state read by a following cell, colours read from the canvas pixels.
 * Also measured (printed, written to test-artifacts/e2e/latency.json, never asserted as a time):
 * the click-to-mask latency in the browser over 20 clicks.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNifti } from "../../kernel/io/nifti-read.js";
import { extractSlice, viewMapping } from "../../kernel/io/volume-view.js";
import { launch } from "../../widgets/harness/driver.js";
import { REPO } from "../../widgets/harness/jupyter-server.js";
import { canRun } from "../helpers/require.js";
import { LabCanvas } from "./helpers/lab-canvas.js";
import { kernelLog, startLab, type Lab } from "./helpers/lab.js";
import { ARTIFACTS, LabPage, OUR_PLUGIN } from "./helpers/lab-page.js";
import { e2ePrerequisites } from "./helpers/suite.js";

const { host, reason } = e2ePrerequisites();
const run = canRun(host !== null, reason);

/** The parts of JupyterLab's application object (window.jupyterapp) that these tests read. */
interface LabWindow {
  jupyterapp: {
    shell: { currentWidget: { content: { model: { cells: { length: number } } }; context: { model: { dirty: boolean } } } };
  };
}

const NOTEBOOK = "notebooks/05-canvas.ipynb";
const CT = join(REPO, "data", "samples", "ct-phantom.nii.gz");
const LABELS = join(REPO, "data", "samples", "ct-phantom-labels.nii.gz");
const LIVER = 1;
const SPLEEN = 2;
const Z = 20;

type XY = [number, number];

/** Pixels of `label` on axial slice z of the sample's label map, as the canvas shows the slice. */
async function organOnSlice(label: number, z: number): Promise<{ mask: Uint8Array; width: number; height: number }> {
  const labels = await readNifti(LABELS);
  const m = viewMapping(labels, "axial");
  const slice = extractSlice({ ...labels, channels: 1 }, m, z);
  return { mask: Uint8Array.from(slice.data as ArrayLike<number>, (v) => (v === label ? 1 : 0)), width: slice.width, height: slice.height };
}

/** Points deep inside an organ: the pixels left after eroding it as far as it goes (4-neighbour). */
function deepPoints({ mask, width, height }: { mask: Uint8Array; width: number; height: number }): { points: XY[]; depth: number } {
  let cur = mask;
  let depth = 0;
  for (;;) {
    const next = new Uint8Array(cur.length);
    let left = 0;
    for (let y = 1; y < height - 1; y++) {
      for (let x = 1; x < width - 1; x++) {
        const i = y * width + x;
        if (cur[i] && cur[i - 1] && cur[i + 1] && cur[i - width] && cur[i + width]) {
          next[i] = 1;
          left++;
        }
      }
    }
    if (left === 0) break;
    cur = next;
    depth++;
  }
  const points: XY[] = [];
  cur.forEach((v, i) => v && points.push([i % width, Math.floor(i / width)]));
  return { points, depth };
}

function bbox({ mask, width }: { mask: Uint8Array; width: number }): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  mask.forEach((v, i) => {
    if (!v) return;
    const x = i % width, y = Math.floor(i / width);
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  });
  return { x0, y0, x1, y1 };
}

/** Does the canvas show an overlay colour here (not the gray of the CT alone)? */
const tinted = ([r, g, b]: [number, number, number]) => Math.max(Math.abs(r - g), Math.abs(g - b), Math.abs(r - b)) > 20;

interface KernelState {
  slice: number;
  area: number;
  currentSlices: number;
  points: { x: number; y: number; z: number; positive: boolean }[];
  boxes: number;
  objects: { label: number; name: string; voxels: number; slices: number[] }[];
  history: string[];
}

describe.runIf(run)("the canvas in JupyterLab 4 (05-canvas)", () => {
  let lab: Lab;
  let browser: Browser;
  let lp: LabPage;
  let cv: LabCanvas;
  let scope = "";
  let canvasCell = -1;
  let model = "";
  let liver: { points: XY[]; depth: number };
  let liverMask: { mask: Uint8Array; width: number; height: number };
  let liver21: { points: XY[]; depth: number };
  let liver21Box: { x0: number; y0: number; x1: number; y1: number };
  let spleenBox: { x0: number; y0: number; x1: number; y1: number };
  let spleenDeep: XY;

  const state = () => lp.json<KernelState>("console.log(JSON.stringify(e2eState()))");
  const shot = (name: string) => lp.screenshot(`canvas-${name}`);
  /** The page with the canvas scrolled into view, and the widget alone (canvas-widget-<name>.png; the tutorial's picture is one). */
  const widgetShot = async (name: string, where = scope) => {
    await cv.root(where).scrollIntoViewIfNeeded();
    await cv.nextFrame();
    await cv.root(where).screenshot({ path: join(ARTIFACTS, `canvas-widget-${name}.png`) });
    return lp.screenshot(`canvas-${name}`);
  };

  beforeAll(async () => {
    liverMask = await organOnSlice(LIVER, Z);
    liver = deepPoints(liverMask);
    const liverNext = await organOnSlice(LIVER, Z + 1);
    liver21 = deepPoints(liverNext);
    liver21Box = bbox(liverNext);
    const spleen = await organOnSlice(SPLEEN, Z);
    spleenBox = bbox(spleen);
    spleenDeep = deepPoints(spleen).points[0]!;
    lab = await startLab(host!);
    browser = await launch();
    lp = await LabPage.open(browser, lab, NOTEBOOK);
    cv = new LabCanvas(lp.page);
    await cv.recordLatencies();
    // The notebook's own first code cell picks and loads the model.
    const first = await lp.runCellAt(await lp.firstCodeCell());
    expect(first.error, kernelLog(lab).slice(-2000)).toBeNull();
    model = /model: (\S+)/.exec(first.stdout)?.[1] ?? "?";
    const created = await lp.runCell(
      [
        `import { extractSlice, openVolume, readNifti, segmentCanvas, viewMapping } from "medicosam-notebook";`,
        `const e2eVolume = await openVolume("../data/samples/ct-phantom.nii.gz");`,
        `const e2e = segmentCanvas(model, e2eVolume, { window: "abdomen", slice: ${Z} });`,
        `function e2eState() {`,
        `  const cur = e2e.current, plane = e2eVolume.dims[0] * e2eVolume.dims[1], slices = new Set<number>();`,
        `  let area = 0;`,
        `  if (cur) cur.forEach((v, i) => { if (v) { area++; slices.add(Math.floor(i / plane)); } });`,
        `  return { slice: e2e.slice, area, currentSlices: slices.size, points: e2e.prompts.points, boxes: e2e.prompts.boxes.length,`,
        `    objects: e2e.objects, history: e2e.history.map((h) => \`\${h.origin}:\${h.action.type}\${h.ok ? "" : "!"}\`) };`,
        `}`,
        `/** The current object's mask at view pixel (x, y) of axial slice z (0 when nothing is segmented). */`,
        `function e2eMaskAt(x: number, y: number, z: number): number {`,
        `  const cur = e2e.current;`,
        `  if (!cur) return 0;`,
        `  const m = viewMapping(e2eVolume, "axial");`,
        `  return extractSlice({ dims: e2eVolume.dims, affine: e2eVolume.affine, data: cur, channels: 1 }, m, z).data[y * m.width + x]!;`,
        `}`,
        `e2e`,
      ].join("\n"),
    );
    expect(created.error).toBeNull();
    expect(created.outputs.some((o) => o.data && "application/vnd.jupyter.widget-view+json" in o.data)).toBe(true);
    canvasCell = created.index;
    scope = await lp.tagCell(canvasCell, "canvas");
    await cv.root(scope).waitFor({ timeout: 30_000 });
    await cv.idle(scope);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await lab?.stop();
  }, 30_000);

  it("our plugin is active and the volume canvas renders in the notebook", async () => {
    expect(await lp.pluginActivated(OUR_PLUGIN)).toBe(true);
    expect(await cv.sliceShown(scope)).toBe(Z);
    expect(liver.depth, "the liver is big enough to click into").toBeGreaterThan(3);
    await shot("01-rendered");
  });

  it("click inside the liver: a mask is drawn", async () => {
    const p = liver.points[0]!;
    // a pixel next to the click but clear of its marker (5 screen px), deep in the liver too
    const beside = liver.points.find(([x, y]) => Math.hypot(x - p[0], y - p[1]) >= 4 && Math.hypot(x - p[0], y - p[1]) <= 6) ?? ([p[0] + 5, p[1]] as XY);
    expect(tinted(await cv.pixel(scope, ...beside)), "nothing drawn before the click").toBe(false);
    await cv.click(scope, ...p);
    await cv.idle(scope);
    expect(tinted(await cv.pixel(scope, ...beside)), "the mask is drawn around the click").toBe(true);
    const s = await state();
    expect(s.points).toEqual([expect.objectContaining({ x: p[0], y: p[1], positive: true })]);
    expect(s.area).toBeGreaterThan(0);
    await shot("02-click");
  });

  it("Shift+click a negative point inside the mask: the kernel re-segments with it", async () => {
    const [cx, cy] = liver.points[0]!;
    // A liver pixel (with a 2-pixel margin of liver around it) 13-15 px from the click: inside the
    // first mask of either model (the analytic one draws a disc of 16 px here) and far enough for
    // its hole (12 px for the analytic model) to leave the positive click inside.
    const { mask, width, height } = liverMask;
    const inLiver = (x: number, y: number) => {
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) if (!mask[(y + dy) * width + x + dx]) return false;
      return true;
    };
    let negative: XY | undefined;
    for (let y = 2; y < height - 2 && !negative; y++) {
      for (let x = 2; x < width - 2 && !negative; x++) {
        const d = Math.hypot(x - cx, y - cy);
        if (d >= 13 && d <= 15 && inLiver(x, y)) negative = [x, y];
      }
    }
    expect(negative, "a liver pixel 13-15 px from the click").toBeDefined();
    const maskAt = ([x, y]: XY) => lp.json<number>(`console.log(JSON.stringify(e2eMaskAt(${x}, ${y}, ${Z})))`);
    expect(await maskAt(negative!), "the negative point starts inside the mask").toBe(1);
    const areaBefore = (await state()).area;
    await cv.click(scope, ...negative!, { shift: true });
    await cv.idle(scope);
    const s = await state();
    expect(s.points.map((q) => q.positive)).toEqual([true, false]);
    expect(s.area).toBeGreaterThan(0);
    expect(s.area, "the mask after the negative click").toBeLessThan(areaBefore);
    expect(await maskAt(liver.points[0]!), "the positive click is still inside").toBe(1);
    // Only the analytic model promises a hole at every negative click (closed form); a trained
    // model weighs a negative click inside a uniform organ against the image (the demo model
    // shrinks the liver here but keeps this pixel).
    if (model === "analytic") expect(await maskAt(negative!), "the negative point is outside the new mask").toBe(0);
    await shot("03-negative");
  });

  it("C commits the liver as label 1; keys pressed in the canvas never reach Lab's shortcuts", async () => {
    const cells = () => lp.page.evaluate(() => (globalThis as unknown as LabWindow).jupyterapp.shell.currentWidget.content.model.cells.length);
    const before = await cells();
    await cv.focus(scope);
    // In command mode Lab would insert a cell for B; in the canvas B toggles the brush (pressed
    // twice: back to prompts). (A is the canvas's segment everything: its own test below.)
    await lp.page.keyboard.press("b");
    await lp.page.keyboard.press("b");
    expect(await cv.root(scope).getAttribute("data-tool")).toBe("prompt");
    await lp.page.keyboard.press("c");
    await cv.idle(scope);
    const s = await state();
    expect(s.objects.map((o) => o.label)).toEqual([1]);
    expect(s.area).toBe(0);
    expect(await cells(), "cells inserted by keys that leaked out of the canvas").toBe(before + 1); // + the state() cell
    expect(await cv.root(scope).locator('[data-testid="remove-1"]').count()).toBe(1);
  });

  it("drag a box around the spleen: a mask; C commits it as label 2", async () => {
    const m = 3;
    await cv.drag(scope, [spleenBox.x0 - m, spleenBox.y0 - m], [spleenBox.x1 + m, spleenBox.y1 + m]);
    await cv.idle(scope);
    let s = await state();
    expect(s.boxes).toBe(1);
    expect(s.area).toBeGreaterThan(0);
    expect(tinted(await cv.pixel(scope, ...spleenDeep))).toBe(true);
    await shot("04-box");
    await cv.focus(scope);
    await lp.page.keyboard.press("c");
    await cv.idle(scope);
    s = await state();
    expect(s.objects.map((o) => o.label)).toEqual([1, 2]);
    expect(s.objects.every((o) => o.voxels > 0 && o.slices.length === 1)).toBe(true);
    await shot("05-committed");
  });

  it("ArrowUp shows the next slice, in the browser and in the kernel", async () => {
    await cv.focus(scope);
    await lp.page.keyboard.press("ArrowUp");
    await cv.waitForCanvas(scope, "data-slice", "==", Z + 1);
    await cv.idle(scope);
    // The view tells the kernel after a short debounce (scrolling sends one update, not one per step).
    const deadline = Date.now() + 10_000;
    let slice = (await state()).slice;
    while (slice !== Z + 1 && Date.now() < deadline) slice = (await state()).slice;
    expect(slice).toBe(Z + 1);
  });

  it("Shift+S propagates the object through the volume; Ctrl+Z undoes it", async () => {
    // A click and a box around the liver: the analytic model then draws the same disc on every
    // slice (propagation runs on), a trained model follows the liver.
    await cv.click(scope, ...liver21.points[0]!);
    await cv.idle(scope);
    await cv.drag(scope, [liver21Box.x0 - 2, liver21Box.y0 - 2], [liver21Box.x1 + 2, liver21Box.y1 + 2]);
    await cv.idle(scope);
    const before = await state();
    expect(before.currentSlices).toBe(1);
    expect(before.boxes).toBe(1);
    // (running a cell moved the focus to the notebook; a user clicks the canvas, we focus it)
    await cv.focus(scope);
    await lp.page.keyboard.press("Shift+S");
    await cv.idle(scope, 120_000);
    const propagated = await state();
    expect(propagated.history.at(-1)).toBe("frontend:propagate");
    expect(propagated.currentSlices).toBeGreaterThan(1);
    await shot("06-propagated");
    await cv.focus(scope);
    await lp.page.keyboard.press("Control+z");
    await cv.idle(scope);
    const undone = await state();
    expect(undone.history.at(-1)).toBe("frontend:undo");
    expect(undone.currentSlices).toBe(1);
    expect(undone.objects.map((o) => o.label)).toEqual([1, 2]);
  });

  it("after saving and reloading the page, the widget comes back from the kernel with both labels", async () => {
    await lp.command("docmanager:save");
    await lp.page.waitForFunction(() => !(globalThis as unknown as LabWindow).jupyterapp.shell.currentWidget.context.model.dirty, null, { timeout: 20_000 });
    await lp.reload(NOTEBOOK);
    scope = await lp.tagCell(canvasCell, "canvas");
    await cv.root(scope).waitFor({ timeout: 30_000 });
    await cv.idle(scope);
    expect(await cv.root(scope).locator('[data-testid="remove-1"]').count()).toBe(1);
    expect(await cv.root(scope).locator('[data-testid="remove-2"]').count()).toBe(1);
    expect(await cv.sliceShown(scope)).toBe(Z + 1);
    await cv.focus(scope);
    await lp.page.keyboard.press("ArrowDown");
    await cv.waitForCanvas(scope, "data-slice", "==", Z);
    await cv.idle(scope);
    expect(tinted(await cv.pixel(scope, ...liver.points[0]!)), "label 1 drawn after the reload").toBe(true);
    expect(tinted(await cv.pixel(scope, ...spleenDeep)), "label 2 drawn after the reload").toBe(true);
    await shot("07-reloaded");
  });

  it("a cell saves the labels to NIfTI and another reads them back", async () => {
    const saved = await lp.json<{ labels: number[]; path: string }>(
      `const e2eSaved = await e2e.save("../out/e2e/labels.nii.gz"); console.log(JSON.stringify(e2eSaved))`,
    );
    expect(saved.labels).toEqual([1, 2]);
    const back = await lp.json<{ dims: number[]; counts: Record<string, number>; objects: { label: number; voxels: number }[] }>(
      `const e2eBack = await readNifti("../out/e2e/labels.nii.gz"); const counts: Record<number, number> = {};
       for (const v of Array.from(e2eBack.data as ArrayLike<number>)) if (v) counts[v] = (counts[v] ?? 0) + 1;
       console.log(JSON.stringify({ dims: e2eBack.dims, counts, objects: e2e.objects }))`,
    );
    expect(back.counts).toEqual(Object.fromEntries(back.objects.map((o) => [String(o.label), o.voxels])));
    // and the file itself, read here: the CT's geometry and the same voxels
    const [file, ct] = await Promise.all([readNifti(join(lab.root, "out", "e2e", "labels.nii.gz")), readNifti(CT)]);
    expect(file.dims).toEqual(ct.dims);
    expect(file.affine).toEqual(ct.affine);
    const counts: Record<string, number> = {};
    for (const v of Array.from(file.data as ArrayLike<number>)) if (v) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
    expect(counts).toEqual(back.counts);
  });

  it("brush on object 1 paints it, the eraser takes it away (one undo step each); frame times recorded", async () => {
    await lp.runCell(
      [
        `function e2eLabelAt(x: number, y: number, z: number): number {`,
        `  const m = viewMapping(e2eVolume, "axial");`,
        `  return extractSlice({ dims: e2eVolume.dims, affine: e2eVolume.affine, data: e2e.labels, channels: 1 }, m, z).data[y * m.width + x]!;`,
        `}`,
      ].join("\n"),
    );
    const labelAt = ([x, y]: XY) => lp.json<number>(`console.log(JSON.stringify(e2eLabelAt(${x}, ${y}, ${Z})))`);
    expect(await cv.sliceShown(scope)).toBe(Z);
    // a horizontal stroke through the middle of the slice, right of the liver's deepest point
    const { width, height } = liverMask;
    const y = Math.round(height * 0.75);
    const from: XY = [Math.round(width * 0.3), y];
    const to: XY = [Math.round(width * 0.6), y];
    const mid: XY = [Math.round((from[0] + to[0]) / 2), y];
    await cv.root(scope).locator('[data-testid="target-1"]').click();
    await cv.focus(scope);
    await lp.page.keyboard.press("b");
    expect(await cv.root(scope).getAttribute("data-tool")).toBe("brush");
    expect(await cv.root(scope).getAttribute("data-brush-target")).toBe("1");
    const frames = await cv.stroke(scope, from, to, 40);
    await cv.idle(scope);
    expect(frames.length).toBeGreaterThan(10);
    expect(await labelAt(mid)).toBe(1);
    expect(tinted(await cv.pixel(scope, ...mid))).toBe(true);
    await widgetShot("08-brush");
    await cv.focus(scope); // running a cell took the focus
    await lp.page.keyboard.press("e");
    expect(await cv.root(scope).getAttribute("data-tool")).toBe("eraser");
    await cv.stroke(scope, [mid[0], y - 8], [mid[0], y + 8], 10);
    await cv.idle(scope);
    expect(await labelAt(mid)).toBe(0);
    expect(tinted(await cv.pixel(scope, ...mid))).toBe(false);
    expect(await labelAt(from)).toBe(1);
    await widgetShot("09-erase");
    const s = await state();
    expect(s.history.slice(-2)).toEqual(["frontend:stroke", "frontend:stroke"]);
    await cv.focus(scope);
    await lp.page.keyboard.press("e"); // back to prompts
    expect(await cv.root(scope).getAttribute("data-tool")).toBe("prompt");
    const sorted = [...frames].sort((a, b) => a - b);
    const brush = { slice: `${width}x${height}`, frames: frames.length, medianMs: sorted[Math.floor(sorted.length / 2)], maxMs: sorted.at(-1) };
    writeFileSync(join(ARTIFACTS, "brush-frames.json"), `${JSON.stringify(brush, null, 2)}\n`);
    console.log(`brush stroke in JupyterLab: ${brush.frames} frames, median ${brush.medianMs?.toFixed(2)} ms, max ${brush.maxMs?.toFixed(2)} ms per frame`);
  });

  it("objects panel: rename, hide and show, go to the object's central slice, relabel", async () => {
    const root = cv.root(scope);
    await root.locator('[data-testid="name-2"]').fill("spleen");
    await root.locator('[data-testid="name-2"]').press("Enter");
    await cv.idle(scope);
    let s = await state();
    expect(s.objects.map((o) => [o.label, o.name])).toEqual([[1, "object 1"], [2, "spleen"]]);
    expect(tinted(await cv.pixel(scope, ...spleenDeep))).toBe(true);
    await root.locator('[data-testid="visible-2"]').click();
    await cv.nextFrame();
    expect(tinted(await cv.pixel(scope, ...spleenDeep)), "hidden").toBe(false);
    await widgetShot("10-hidden");
    await root.locator('[data-testid="visible-2"]').click();
    await cv.nextFrame();
    expect(tinted(await cv.pixel(scope, ...spleenDeep)), "shown again").toBe(true);
    await cv.focus(scope);
    for (let i = 0; i < 5; i++) await lp.page.keyboard.press("ArrowUp");
    await cv.waitForCanvas(scope, "data-slice", "==", Z + 5);
    await root.locator('[data-testid="goto-1"]').click();
    const slices = s.objects[0]!.slices;
    await cv.waitForCanvas(scope, "data-slice", "==", slices[Math.floor((slices.length - 1) / 2)]!);
    await root.locator('[data-testid="relabel-2"]').fill("7");
    await root.locator('[data-testid="relabel-2"]').press("Enter");
    await cv.idle(scope);
    s = await state();
    expect(s.objects.map((o) => o.label)).toEqual([1, 7]);
    expect(await root.locator('[data-testid="name-7"]').inputValue()).toBe("spleen");
    await widgetShot("11-objects-panel");
    await cv.focus(scope);
    await lp.page.keyboard.press("Home");
    for (let i = 0; i < Z; i++) await lp.page.keyboard.press("ArrowUp");
    await cv.waitForCanvas(scope, "data-slice", "==", Z);
  });

  it("w.loadLabels puts the sample's label map in as editable objects; Ctrl+Z in the canvas takes it back", async () => {
    const sample = await readNifti(LABELS);
    const expected = [...new Set(Array.from(sample.data as ArrayLike<number>).filter((v) => v > 0))].sort((a, b) => a - b);
    const loaded = await lp.json<{ label: number; voxels: number }[]>(
      `console.log(JSON.stringify(await e2e.loadLabels("../data/samples/ct-phantom-labels.nii.gz")))`,
    );
    expect(loaded.map((o) => o.label)).toEqual(expected);
    await cv.idle(scope);
    expect(await cv.root(scope).locator('[data-testid="objects"] li').count()).toBe(expected.length);
    expect(tinted(await cv.pixel(scope, ...liver.points[0]!))).toBe(true);
    await widgetShot("12-loaded-labels");
    await cv.focus(scope);
    await lp.page.keyboard.press("Control+z");
    await cv.idle(scope);
    expect((await state()).objects.map((o) => o.label)).toEqual([1, 7]);
  });

  it("a single click shows SAM's three candidates with their IoU; keys 1-3 show each, Ctrl+Z goes back to micro_sam's choice", async () => {
    const root = cv.root(scope);
    expect(await root.locator('[data-testid="candidates"]').isHidden()).toBe(true);
    await cv.click(scope, ...liver.points[0]!);
    await cv.idle(scope);
    await root.locator('[data-testid="candidate-3"]').waitFor({ timeout: 10_000 });
    type Listed = { z: number; items: { token: number; iou: number; chosen: boolean; shown: boolean; area: number }[] };
    const listed = () => lp.json<Listed>(`const e2eC = e2e.candidates; console.log(JSON.stringify(e2eC && { z: e2eC.z, items: e2eC.items.map(({ mask: _m, ...rest }) => rest) }))`);
    // (the current object also has the prompts of the next slice, left by the propagation test: count slice Z only)
    await lp.runCell(
      [
        `function e2eAreaOn(z: number): number {`,
        `  const cur = e2e.current;`,
        `  if (!cur) return 0;`,
        `  const m = viewMapping(e2eVolume, "axial");`,
        `  return Array.from(extractSlice({ dims: e2eVolume.dims, affine: e2eVolume.affine, data: cur, channels: 1 }, m, z).data).filter((v) => v).length;`,
        `}`,
      ].join("\n"),
    );
    const before = await listed();
    expect(before.z).toBe(Z);
    expect(before.items.map((c) => c.token)).toEqual([1, 2, 3]);
    const chosen = before.items.find((c) => c.chosen)!;
    // micro_sam's rule: the highest predicted IoU among tokens 1-3 is what the click shows
    expect(chosen.iou).toBe(Math.max(...before.items.map((c) => c.iou)));
    expect(chosen.shown).toBe(true);
    for (const c of before.items) {
      expect(Number(await root.locator(`[data-testid="candidate-${c.token}"]`).getAttribute("data-iou"))).toBeCloseTo(c.iou, 6);
      expect(await root.locator(`[data-testid="candidate-${c.token}"]`).getAttribute("aria-pressed")).toBe(String(c.chosen));
    }
    await widgetShot("14-candidates");
    for (const token of [1, 2, 3]) {
      await cv.focus(scope);
      await lp.page.keyboard.press(String(token));
      await cv.idle(scope);
      const now = await lp.json<{ area: number; shown: number }>(`console.log(JSON.stringify({ area: e2eAreaOn(${Z}), shown: e2e.candidates!.items.find((c) => c.shown)?.token ?? 0 }))`);
      expect(now.area, `candidate ${token}'s mask is the current mask of slice ${Z}`).toBe(before.items[token - 1]!.area);
      expect(now.shown).toBe(token);
      expect(await root.locator(`[data-testid="candidate-${token}"]`).getAttribute("aria-pressed")).toBe("true");
    }
    await widgetShot("15-candidate-3");
    const shown = async () => (await lp.json<{ t: number }>(`console.log(JSON.stringify({ t: e2e.candidates!.items.find((c) => c.shown)?.token ?? 0 }))`)).t;
    // each pick that changed the mask is one undo step: 3 -> 2 -> 1 (-> micro_sam's choice, unless that was 1)
    await cv.focus(scope);
    await lp.page.keyboard.press("Control+z");
    await cv.idle(scope);
    expect(await shown()).toBe(2);
    await cv.focus(scope);
    await lp.page.keyboard.press("Control+z");
    await cv.idle(scope);
    expect(await shown()).toBe(1);
    if (chosen.token !== 1) {
      await cv.focus(scope);
      await lp.page.keyboard.press("Control+z");
      await cv.idle(scope);
    }
    expect(await shown()).toBe(chosen.token);
    expect(await lp.json<number>(`console.log(JSON.stringify(e2eAreaOn(${Z})))`)).toBe(chosen.area);
    await cv.focus(scope);
    await lp.page.keyboard.press("Backspace");
    await cv.idle(scope);
    expect(await root.locator('[data-testid="candidates"]').isHidden()).toBe(true);
  });

  it("after Shift+S the strip shows each slice's predicted IoU and the stop reasons; a bar shows its slice; fixed there, F re-propagates from it", { timeout: 240_000 }, async () => {
    const root = cv.root(scope);
    const strip = root.locator('[data-testid="propagation-strip"]');
    await cv.focus(scope);
    await lp.page.keyboard.press("Shift+C");
    await cv.idle(scope);
    expect((await state()).currentSlices).toBe(0);
    expect(await root.locator('[data-testid="propagation"]').isHidden()).toBe(true);
    for (let shown = await cv.sliceShown(scope), n = 0; shown !== Z && n < 100; shown = await cv.sliceShown(scope), n++) {
      await lp.page.keyboard.press(shown < Z ? "ArrowUp" : "ArrowDown");
    }
    expect(await cv.sliceShown(scope)).toBe(Z);
    await cv.click(scope, ...liver.points[0]!);
    await cv.idle(scope);
    await cv.focus(scope);
    await lp.page.keyboard.press("Shift+S");
    await cv.idle(scope, 120_000);
    type Report = { seeds: number[]; restarts: number[]; slices: { z: number; written: boolean; iou: number | null }[]; above: { reason: string; lastWritten: number } | null };
    const report = () => lp.json<Report>("console.log(JSON.stringify(e2e.propagation))");
    const first = await report();
    expect(first.seeds).toEqual([Z]);
    await strip.waitFor({ timeout: 10_000 });
    expect(await strip.locator("button").count()).toBe((await readNifti(CT)).dims[2]);
    expect(await strip.locator(`[data-z="${Z}"]`).getAttribute("data-kind")).toBe("seed");
    for (const o of first.slices) {
      const bar = strip.locator(`[data-z="${o.z}"]`);
      expect(await bar.getAttribute("data-kind")).toBe(o.written ? "written" : "refused");
      if (o.iou !== null) expect(Number(await bar.getAttribute("data-iou"))).toBeCloseTo(o.iou, 6);
    }
    expect(await root.locator('[data-testid="propagation-caption"]').textContent()).toMatch(/down: .+ · up: (IoU|empty mask|volume end)/);
    // On the seed slice there is nothing to re-propagate from.
    expect(await root.locator('[data-testid="repropagate"]').isDisabled()).toBe(true);
    await widgetShot("16-propagation-strip");
    // A slice above the seed that the propagation wrote: its bar shows it, in the view and the kernel.
    const target = Math.min(Z + 3, first.above?.lastWritten ?? Z);
    expect(target).toBeGreaterThan(Z);
    await strip.locator(`[data-z="${target}"]`).click();
    await cv.waitForCanvas(scope, "data-slice", "==", target);
    expect(await strip.locator(`[data-z="${target}"]`).getAttribute("aria-current")).toBe("true");
    const deadline = Date.now() + 10_000;
    let kernelSlice = (await state()).slice;
    while (kernelSlice !== target && Date.now() < deadline) kernelSlice = (await state()).slice;
    expect(kernelSlice).toBe(target);
    // Fixed with a click on the liver there, then F: propagated again from it, upward only.
    const deep = deepPoints(await organOnSlice(LIVER, target)).points[0]!;
    await cv.click(scope, ...deep);
    await cv.idle(scope);
    expect(await root.locator('[data-testid="repropagate"]').isDisabled()).toBe(false);
    await cv.focus(scope);
    await lp.page.keyboard.press("f");
    await cv.idle(scope, 120_000);
    expect((await state()).history.at(-1)).toBe("frontend:repropagate");
    const again = await report();
    expect(again.restarts).toEqual([target]);
    expect(again.slices.filter((o) => o.z < target)).toEqual(first.slices.filter((o) => o.z < target));
    expect(await strip.locator(`[data-z="${target}"]`).getAttribute("data-kind")).toBe("restart");
    await widgetShot("17-repropagated");
    await cv.focus(scope);
    await lp.page.keyboard.press("Shift+C");
    await cv.idle(scope);
  });

  it("click-to-mask latency over 20 clicks (measured, not asserted)", { timeout: 180_000 }, async () => {
    await cv.recordLatencies(); // the reload dropped the listener
    await cv.focus(scope);
    const before = (await cv.recordedLatencies()).length;
    const wall: number[] = [];
    const points = liver.points.length >= 20 ? liver.points : [...liver.points, ...liver.points, ...liver.points, ...liver.points, ...liver.points];
    for (let n = 0; n < 20; n++) {
      const p = points[(n * 7) % points.length]!;
      const t0 = performance.now();
      await cv.click(scope, ...p);
      await cv.idle(scope);
      wall.push(performance.now() - t0);
      await lp.page.keyboard.press("Backspace");
      await cv.idle(scope);
    }
    const widget = (await cv.recordedLatencies()).slice(before).filter((l) => l.action === "add_point").map((l) => l.ms);
    expect(widget).toHaveLength(20);
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
      return { median: Math.round(q(0.5)), p95: Math.round(q(0.95)), min: Math.round(s[0]!), max: Math.round(s.at(-1)!) };
    };
    const report = {
      model,
      clicks: widget.length,
      host: `JupyterLab ${host!.info.versions["@jupyterlab/application"]} (${host!.info.mode} build), Chromium headless`,
      clickToMaskMs: stats(widget),
      clickToPaintedMs: stats(wall),
      note: "clickToMask: the widget's own measure (action sent -> mask message applied); clickToPainted: the test's mouse click -> view idle and next frame painted (adds the driver's round trips).",
    };
    writeFileSync(join(ARTIFACTS, "latency.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`click-to-mask in JupyterLab (${model}): median ${report.clickToMaskMs.median} ms, p95 ${report.clickToMaskMs.p95} ms; to painted: median ${report.clickToPaintedMs.median} ms`);
  });

  it("autosave, kernel restart, reopen: the same objects and names come back", { timeout: 240_000 }, async () => {
    const opened = await lp.runCell(
      `const e2eS = segmentCanvas(model, e2eVolume, { window: "abdomen", slice: ${Z}, autosave: "../out/e2e/session.nii.gz", resume: false });\ne2eS`,
    );
    expect(opened.error).toBeNull();
    const session = await lp.tagCell(opened.index, "session");
    await cv.root(session).waitFor({ timeout: 30_000 });
    await cv.idle(session);
    await cv.click(session, ...liver.points[0]!);
    await cv.idle(session);
    await cv.focus(session);
    await lp.page.keyboard.press("c");
    await cv.idle(session);
    await cv.root(session).locator('[data-testid="name-1"]').fill("liver");
    await cv.root(session).locator('[data-testid="name-1"]').press("Enter");
    await cv.idle(session);
    const before = await lp.json<{ label: number; name: string; voxels: number; slices: number[] }[]>(`await e2eS.autosaved(); console.log(JSON.stringify(e2eS.objects))`);
    expect(before.map((o) => [o.label, o.name])).toEqual([[1, "liver"]]);

    await lp.command("kernelmenu:restart");
    expect(await lp.acceptDialog()).toMatch(/Restart Kernel/i);
    await lp.kernelIdle();
    const first = await lp.runCellAt(await lp.firstCodeCell());
    expect(first.error).toBeNull();
    const reopened = await lp.runCell(
      [
        `import { openVolume, segmentCanvas } from "medicosam-notebook";`,
        `const again = segmentCanvas(model, await openVolume("../data/samples/ct-phantom.nii.gz"), { window: "abdomen", slice: ${Z}, autosave: "../out/e2e/session.nii.gz" });`,
        `console.log(JSON.stringify({ loaded: await again.loaded, objects: again.objects }));`,
        `again`,
      ].join("\n"),
    );
    expect(reopened.error).toBeNull();
    const back = JSON.parse(reopened.stdout.trim().split("\n").pop()!) as { loaded: number; objects: typeof before };
    expect(back.loaded).toBe(1);
    expect(back.objects).toEqual(before);
    const again = await lp.tagCell(reopened.index, "reopened");
    await cv.root(again).waitFor({ timeout: 30_000 });
    await cv.idle(again);
    expect(await cv.root(again).locator('[data-testid="name-1"]').inputValue()).toBe("liver");
    expect(tinted(await cv.pixel(again, ...liver.points[0]!))).toBe(true);
    await widgetShot("13-reopened-after-restart", again);
  });

  it("segment everything: A shows proposals as outlines; click accepts one, Shift+click drops one, Ctrl+Z undoes the accept", { timeout: 300_000 }, async () => {
    const made = await lp.runCell(
      [
        // Self-contained: the restart test before this one leaves only `model` (the first cell, re-run).
        `import { extractSlice as e2eExtract, openVolume as e2eOpen, segmentCanvas as e2eCanvas, viewMapping as e2eMapping } from "medicosam-notebook";`,
        `const e2eCt = await e2eOpen("../data/samples/ct-phantom.nii.gz");`,
        `const e2eSlice = e2eExtract(e2eCt, e2eMapping(e2eCt, "axial"), ${Z});`,
        `const e2eAuto = e2eCanvas(model, e2eSlice, { window: "abdomen", automatic: { pointsPerSide: 8 } });`,
        `/** A pixel deep in proposal id (its 4 neighbours too) that no smaller proposal covers: where a click means it. */`,
        `function e2ePick(id: number): [number, number] | null {`,
        `  const all = e2eAuto.proposals, me = all.find((p) => p.id === id)!, m = me.mask(), w = e2eAuto.width;`,
        `  const smaller = all.filter((p) => p.id !== id && p.area <= me.area).map((p) => p.mask());`,
        `  const own = (i: number) => m[i] === 1 && smaller.every((o) => o[i] === 0);`,
        `  for (let i = w; i < m.length - w; i++) if (own(i) && own(i - 1) && own(i + 1) && own(i - w) && own(i + w)) return [i % w, Math.floor(i / w)];`,
        `  return null;`,
        `}`,
        `e2eAuto`,
      ].join("\n"),
    );
    expect(made.error).toBeNull();
    const auto = await lp.tagCell(made.index, "automatic");
    await cv.root(auto).waitFor({ timeout: 30_000 });
    await cv.idle(auto);
    await cv.focus(auto);
    await lp.page.keyboard.press("a");
    // Busy while the generator runs, with its progress in the status line; then the proposals.
    const activity = async () => `${await cv.root(auto).getAttribute("data-status")}/${await cv.root(auto).getAttribute("data-busy")}`;
    await expect.poll(activity, { timeout: 30_000, interval: 20 }).toBe("proposing/true");
    expect(await cv.root(auto).locator('[data-testid="everything"]').textContent()).toBe("Stop (A)");
    await cv.idle(auto, 240_000);
    const found = await lp.json<{ id: number; area: number; pick: [number, number] | null }[]>(
      `console.log(JSON.stringify(e2eAuto.proposals.map((p) => ({ id: p.id, area: p.area, pick: e2ePick(p.id) }))))`,
    );
    expect(found.length, "the generator proposes masks on the CT slice").toBeGreaterThan(1);
    expect(Number(await cv.root(auto).getAttribute("data-proposals"))).toBe(found.length);
    const [first, second] = found.filter((p) => p.pick !== null);
    expect(second, "two proposals with a pixel of their own").toBeDefined();
    expect(tinted(await cv.pixel(auto, ...first!.pick!)), "inside a proposal: outlines only, no fill").toBe(false);
    await widgetShot("14-proposals", auto);

    const objects = () => lp.json<{ label: number; voxels: number }[]>(`console.log(JSON.stringify(e2eAuto.objects))`);
    const shown = () => lp.json<number[]>(`console.log(JSON.stringify(e2eAuto.proposals.map((p) => p.id)))`);
    await cv.click(auto, ...first!.pick!);
    await cv.idle(auto);
    expect(await objects()).toEqual([expect.objectContaining({ label: 1, voxels: first!.area })]);
    expect(await shown()).not.toContain(first!.id);
    expect(tinted(await cv.pixel(auto, ...first!.pick!)), "the accepted proposal is drawn as label 1").toBe(true);
    await widgetShot("15-proposal-accepted", auto);

    await cv.click(auto, ...second!.pick!, { shift: true });
    await cv.idle(auto);
    expect(await shown()).not.toContain(second!.id);
    expect(await objects()).toHaveLength(1);

    await cv.focus(auto);
    await lp.page.keyboard.press("Control+z");
    await cv.idle(auto);
    expect(await objects()).toEqual([]);
    expect(await shown(), "undo gives the accepted proposal back").toContain(first!.id);
    // The clear button (Esc does the same on the html-manager page; in JupyterLab, Lab takes Esc first).
    await cv.root(auto).locator('[data-testid="clear-proposals"]').click();
    await cv.idle(auto);
    expect(await shown()).toEqual([]);
    expect(await cv.root(auto).getAttribute("data-proposals")).toBe("0");
  });

  it("no page errors, no console errors beyond the allow-list", () => {
    expect(lp.unexpectedErrors()).toEqual([]);
  });
});
