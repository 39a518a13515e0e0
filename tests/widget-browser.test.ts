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
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNifti } from "../kernel/io/nifti-read.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import { geometryFromAffine } from "../kernel/io/nifti-write.js";
import { LABEL_COLORS } from "../kernel/display/overlay.js";
import { ARTIFACTS, CHROMIUM, CanvasPage, clickLatencies, launch, preparePage } from "../widgets/harness/driver.js";
import { viewMapping, type ViewMapping } from "../kernel/io/volume-view.js";
import type { Affine } from "../kernel/io/volume.js";
import { haveJupyterServer, REPO, startJupyterServer, type JupyterServer } from "../widgets/harness/jupyter-server.js";
import { canRun } from "./helpers/require.js";
import { phantomCell, PHANTOM, valueAt } from "../widgets/harness/phantom.js";

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

  /** Kernel-side facts about `w`, straight from the notebook API. */
  async function kernelState(variable = "w"): Promise<{ area: number; points: number; boxes: number; objects: { label: number; voxels: number }[]; status: string; error: string }> {
    return cp.json(`console.log(JSON.stringify({
      area: ${variable}.current ? ${variable}.current.reduce((a, b) => a + b, 0) : 0,
      points: ${variable}.prompts.points.length, boxes: ${variable}.prompts.boxes.length,
      objects: ${variable}.objects.map((o) => ({ label: o.label, voxels: o.voxels })),
      status: ${variable}.widget.get("status"), error: ${variable}.widget.get("error") }))`);
  }

  /** Pixels of the formula's mask: inside(x, y) > 0 inside. */
  function formulaArea(inside: (x: number, y: number) => number): number {
    let n = 0;
    for (let y = 0; y < PHANTOM.height; y++) for (let x = 0; x < PHANTOM.width; x++) if (inside(x, y) > 0) n++;
    return n;
  }
  const dist = (x: number, y: number, c: readonly number[]) => Math.hypot(x - c[0]!, y - c[1]!);

  async function expectShows(x: number, y: number, colour: readonly number[] | "base", what: string): Promise<void> {
    const g = gray(valueAt(x, y));
    const expected = colour === "base" ? [g, g, g] : blendOver(g, colour);
    const actual = await cp.pixel(id, x, y);
    expect(near(actual, expected), `${what}: pixel (${x}, ${y}) is ${actual}, expected ${expected}`).toBe(true);
  }

  const liver = PHANTOM.organs[0]!.center;
  const box = { x0: 140, y0: 165, x1: 215, y1: 235 };
  let boxArea = 0;

  it("shows the phantom from a notebook cell", async () => {
    const r = await cp.exec(phantomCell(join(REPO, "models", "analytic")));
    expect(r.widgets).toHaveLength(1);
    id = r.widgets[0]!;
    await cp.idle(id);
    await cp.screenshot("01-shown");
    await expectShows(liver[0], liver[1], "base", "organ before any click");
    await expectShows(5, 5, "base", "air");
  });

  it("a click segments at once: the mask is on the canvas and in the kernel", async () => {
    await cp.click(id, liver[0], liver[1]);
    await cp.idle(id);
    await cp.screenshot("02-click");
    await expectShows(liver[0] + 15, liver[1], HIGHLIGHT, "inside the click's disc");
    await expectShows(liver[0] + R_CLICK + 8, liver[1], "base", "outside the click's disc");
    const k = await kernelState();
    const expected = formulaArea((x, y) => R_CLICK - dist(x, y, liver));
    expect(Math.abs(k.area - expected)).toBeLessThan(2 * Math.PI * R_CLICK * 1.5);
    expect(k.points).toBe(1);
  });

  it("a dragged box limits the mask to the box", async () => {
    await cp.drag(id, [box.x0, box.y0], [box.x1, box.y1]);
    await cp.idle(id);
    await cp.screenshot("03-box");
    const k = await kernelState();
    expect(k.boxes).toBe(1);
    const inside = (x: number, y: number) => Math.min(R_OTHER - dist(x, y, liver), x - box.x0 + 0.5, box.x1 + 0.5 - x, y - box.y0 + 0.5, box.y1 + 0.5 - y);
    const expected = formulaArea(inside);
    expect(Math.abs(k.area - expected)).toBeLessThan(2 * Math.PI * R_OTHER * 1.5);
    await expectShows(liver[0] + 30, liver[1], HIGHLIGHT, "inside box and disc");
    await expectShows(liver[0], box.y1 + 8, "base", "below the box, inside the disc");
    boxArea = k.area;
  });

  it("a negative (right) click shrinks the mask; Ctrl+Z restores it", async () => {
    const neg = [liver[0] + 20, liver[1] + 15] as const;
    await cp.click(id, neg[0], neg[1], { button: "right" });
    await cp.idle(id);
    await cp.screenshot("04-negative");
    const k = await kernelState();
    expect(k.area).toBeLessThan(boxArea - 0.5 * Math.PI * R_NEG * R_NEG);
    await expectShows(neg[0] + 12, neg[1] + 3, "base", "inside the negative hole");
    await cp.page.keyboard.press("Control+z");
    await cp.idle(id);
    await cp.page.keyboard.press("Control+Shift+Z");
    await cp.idle(id);
    expect((await kernelState()).area).toBe(k.area);
    await cp.page.keyboard.press("Control+z");
    await cp.idle(id);
    const back = await kernelState();
    expect(back.area).toBe(boxArea);
    expect(back.points).toBe(1);
    await expectShows(neg[0] + 12, neg[1] + 3, HIGHLIGHT, "hole gone after undo");
  });

  it("C commits the object as label 1", async () => {
    await cp.page.keyboard.press("c");
    await cp.idle(id);
    await cp.screenshot("05-commit");
    const k = await kernelState();
    expect(k.objects).toEqual([{ label: 1, voxels: boxArea }]);
    expect(k.area).toBe(0);
    await expectShows(liver[0] + 30, liver[1], LABEL_COLORS[0]!, "label 1");
    expect(await cp.root(id).locator('[data-testid="objects"] li').count()).toBe(1);
  });

  it("two more objects with the mouse and the keyboard; prompts can be toggled, clicked away and removed", async () => {
    const kidney = PHANTOM.organs[1]!.center;
    const spleen = PHANTOM.organs[2]!.center;
    // T makes clicks negative; T again positive.
    await cp.page.keyboard.press("t");
    expect(await cp.root(id).getAttribute("data-mode")).toBe("negative");
    await cp.page.keyboard.press("t");
    expect(await cp.root(id).getAttribute("data-mode")).toBe("positive");
    // A click on an existing prompt deletes it.
    await cp.click(id, 420, 300);
    await cp.idle(id);
    expect((await kernelState()).points).toBe(1);
    await cp.click(id, 420, 300);
    await cp.idle(id);
    expect((await kernelState()).points).toBe(0);
    // Shift+click is negative; Backspace removes the last prompt.
    await cp.click(id, 400, 120, { shift: true });
    await cp.idle(id);
    const neg = await cp.json<{ positive: boolean }[]>("console.log(JSON.stringify(w.prompts.points))");
    expect(neg.map((p) => p.positive)).toEqual([false]);
    await cp.page.keyboard.press("Backspace");
    await cp.idle(id);
    expect((await kernelState()).points).toBe(0);

    // Object 2: a click, committed with the toolbar button (mouse only).
    await cp.click(id, kidney[0], kidney[1]);
    await cp.idle(id);
    await cp.root(id).locator('[data-testid="commit"]').click();
    await cp.idle(id);
    // Object 3: a box, S to segment explicitly, C to commit.
    await cp.drag(id, [spleen[0] - 34, spleen[1] - 34], [spleen[0] + 34, spleen[1] + 34]);
    await cp.page.keyboard.press("s");
    await cp.idle(id);
    await cp.page.keyboard.press("c");
    await cp.idle(id);
    await cp.screenshot("06-three-objects");
    const k = await kernelState();
    expect(k.objects.map((o) => o.label)).toEqual([1, 2, 3]);
    await expectShows(kidney[0] + 10, kidney[1], LABEL_COLORS[1]!, "label 2");
    await expectShows(spleen[0] + 10, spleen[1] + 10, LABEL_COLORS[2]!, "label 3");
    // Shift+C clears a started object without touching the committed ones.
    await cp.click(id, 300, 300);
    await cp.idle(id);
    await cp.page.keyboard.press("Shift+C");
    await cp.idle(id);
    const cleared = await kernelState();
    expect([cleared.points, cleared.area]).toEqual([0, 0]);
    expect(cleared.objects.map((o) => o.label)).toEqual([1, 2, 3]);
  });

  it("saves the labels as NIfTI", async () => {
    const path = join(dir, "labels.nii.gz");
    await cp.exec(`await w.save(${JSON.stringify(path)})`);
    const vol = await readNifti(path);
    expect(vol.dims).toEqual([PHANTOM.width, PHANTOM.height, 1]);
    const at = (x: number, y: number) => vol.data[y * PHANTOM.width + x];
    expect(at(liver[0] + 30, liver[1])).toBe(1);
    expect(at(PHANTOM.organs[1]!.center[0], PHANTOM.organs[1]!.center[1])).toBe(2);
    expect(at(PHANTOM.organs[2]!.center[0], PHANTOM.organs[2]!.center[1])).toBe(3);
    expect(at(5, 5)).toBe(0);
  });

  it("keeps keys inside the focused widget, and Esc lets go", async () => {
    const before = (await cp.documentKeys()).length;
    await cp.canvas(id).focus();
    await cp.root(id).focus();
    // (B turns the brush on and off: pressed twice, the canvas is back to prompts)
    for (const key of ["m", "b", "b", "d", "Shift+Enter", "r"]) await cp.page.keyboard.press(key);
    expect((await cp.documentKeys()).length).toBe(before);
    expect(await cp.root(id).getAttribute("data-tool")).toBe("prompt");
    const focused = () => cp.focusedTestId();
    expect(await focused()).toBe("segment-canvas");
    await cp.page.keyboard.press("Escape");
    expect(await focused()).not.toBe("segment-canvas");
    await cp.page.keyboard.press("a");
    expect((await cp.documentKeys()).slice(-1)).toEqual(["a"]);
    // Unfocused, the widget's keys do nothing.
    await cp.page.keyboard.press("t");
    expect(await cp.root(id).getAttribute("data-mode")).toBe("positive");
  });

  it("zooms at the cursor, resets the view, and changes the window in the browser only", async () => {
    const scale = async () => Number(await cp.canvas(id).getAttribute("data-scale"));
    const s0 = await scale();
    const c = await cp.screenOf(id, 256, 256);
    await cp.page.mouse.move(c.cx, c.cy);
    await cp.page.mouse.wheel(0, -300);
    await cp.waitForCanvas(id, "data-scale", ">", s0);
    const after = await cp.screenOf(id, 256, 256);
    expect(Math.abs(after.cx - c.cx)).toBeLessThan(1.5);
    expect(Math.abs(after.cy - c.cy)).toBeLessThan(1.5);
    // Ctrl+drag pans by the distance dragged and adds no prompt.
    const ox = Number(await cp.canvas(id).getAttribute("data-offset-x"));
    await cp.page.keyboard.down("Control");
    await cp.page.mouse.move(c.cx, c.cy);
    await cp.page.mouse.down();
    await cp.page.mouse.move(c.cx + 40, c.cy, { steps: 4 });
    await cp.page.mouse.up();
    await cp.page.keyboard.up("Control");
    await cp.nextFrame();
    expect(Number(await cp.canvas(id).getAttribute("data-offset-x")) - ox).toBeCloseTo(40, 0);
    expect((await kernelState()).boxes).toBe(0);
    await cp.root(id).locator('[data-testid="reset-view"]').click();
    await cp.waitForCanvas(id, "data-scale", "==", s0);
    // A preset window: body (40 HU) in the abdomen window (level 40, width 400) is mid-gray.
    await cp.root(id).locator('[data-testid="preset"]').selectOption("abdomen");
    await cp.nextFrame();
    const g = ((40 - (40 - 200)) * 255) / 400;
    expect(near(await cp.pixel(id, 256, 120), [g, g, g], 1)).toBe(true);
    await cp.root(id).locator('[data-testid="preset"]').selectOption("full range");
    await cp.nextFrame();

    // The cursor readout: coordinates and the stored value under the mouse, no kernel involved.
    const at = await cp.screenOf(id, liver[0], liver[1] + 20);
    await cp.page.mouse.move(at.cx, at.cy);
    expect(await cp.root(id).locator('[data-testid="cursor"]').textContent()).toMatch(new RegExp(`x ${liver[0]}\\s+y ${liver[1] + 20}\\s+value 200\\s+label 1`));

    // Right-drag: up/down moves the level, which changes the gray of the body.
    const bodyBefore = await cp.pixel(id, 256, 120);
    await cp.page.mouse.move(at.cx, at.cy);
    await cp.page.mouse.down({ button: "right" });
    await cp.page.mouse.move(at.cx, at.cy + 60, { steps: 4 });
    await cp.page.mouse.up({ button: "right" });
    await cp.nextFrame();
    const bodyAfter = await cp.pixel(id, 256, 120);
    expect(bodyAfter[0]).toBeLessThan(bodyBefore[0] - 10);
    expect((await kernelState()).points).toBe(0);
    await cp.root(id).locator('[data-testid="preset"]').selectOption("full range");

    // Opacity 1 paints the label colour itself; outline mode leaves the inside of an object as it was.
    await cp.setRange(id, "opacity", 1);
    await cp.nextFrame();
    expect(near(await cp.pixel(id, liver[0] + 30, liver[1]), LABEL_COLORS[0]!)).toBe(true);
    await cp.setRange(id, "opacity", OPACITY);
    await cp.root(id).focus();
    await cp.page.keyboard.press("o");
    await cp.nextFrame();
    await expectShows(liver[0] + 30, liver[1], "base", "inside label 1 in outline mode");
    await cp.page.keyboard.press("o");
    await cp.nextFrame();
    await expectShows(liver[0] + 30, liver[1], LABEL_COLORS[0]!, "filled again");
  });

  it("shows the kernel's refusal of a bad message in the widget", async () => {
    await cp.sendRaw(id, { kind: "action", client: "evil", seq: 1, action: { type: "add_point", x: 9999, y: 1, z: 0, positive: true } });
    const error = cp.root(id).locator('[data-testid="error"]');
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toMatch(/x=9999 is outside the image/);
    await cp.sendRaw(id, { kind: "action", client: "evil", seq: 2, action: { type: "remove_object", label: 42 } });
    await cp.waitForError(id, "no object with label 42");
    expect((await kernelState()).objects.map((o) => o.label)).toEqual([1, 2, 3]);
    await cp.screenshot("07-error");
  });

  // A volume whose slice k shows a bright bar at i in [6k, 6k+6): which slice is on screen is visible in the pixels.
  const VOL = { dims: [96, 80, 12] as [number, number, number], bar: (i: number, j: number, k: number) => i >= 6 * k && i < 6 * k + 6 && j >= 20 && j < 50 };
  let vid = "";
  let mapping: ViewMapping;

  /** Screen pixel of voxel (i, j) on view slice k (the view may flip axes: ask it). */
  function screenOfVoxel(i: number, j: number): [number, number] {
    const x = mapping.colAxis === 0 ? (mapping.colFlip ? VOL.dims[0] - 1 - i : i) : mapping.colFlip ? VOL.dims[1] - 1 - j : j;
    const y = mapping.rowAxis === 1 ? (mapping.rowFlip ? VOL.dims[1] - 1 - j : j) : mapping.rowFlip ? VOL.dims[0] - 1 - i : i;
    return [x, y];
  }

  async function barShown(k: number): Promise<boolean> {
    const [x, y] = screenOfVoxel(6 * k + 3, 35);
    const [r] = await cp.pixel(vid, x, y);
    return r > 200;
  }

  it("shows a volume, changes slices with the keys and the slider, and segments on the shown slice", async () => {
    const [nx, ny, nz] = VOL.dims;
    const data = new Int16Array(nx * ny * nz);
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = VOL.bar(i, j, k) ? 1000 : 0;
    const affine: Affine = [
      [-0.8, 0, 0, 40],
      [0, -0.8, 0, 30],
      [0, 0, 2.5, -10],
      [0, 0, 0, 1],
    ];
    const path = join(dir, "bars.nii.gz");
    await writeNifti(path, { dims: [nx, ny, nz], data, datatype: "int16", geometry: geometryFromAffine(affine) });
    const vol = await readNifti(path);
    mapping = viewMapping(vol, "axial");
    expect(mapping.sliceAxis).toBe(2);
    expect(mapping.sliceFlip).toBe(false);
    const r = await cp.exec(`
import { readNifti } from "medicosam-notebook/dist/kernel/io/nifti-read.js";
const vol = await readNifti(${JSON.stringify(path)});
const v = segmentCanvas(model, vol, { title: "bars" });
v`);
    vid = r.widgets[0]!;
    await cp.idle(vid);
    const sliceOnScreen = async () => Number(await cp.canvas(vid).getAttribute("data-slice"));
    expect(await sliceOnScreen()).toBe(5);
    expect(await barShown(5)).toBe(true);
    expect(await barShown(6)).toBe(false);

    await cp.root(vid).focus();
    await cp.page.keyboard.press("ArrowUp");
    await cp.waitForCanvas(vid, "data-slice", "==", 6);
    await cp.nextFrame();
    expect(await barShown(6)).toBe(true);
    expect(await barShown(5)).toBe(false);

    await cp.setRange(vid, "slice", 9);
    await cp.nextFrame();
    expect(await sliceOnScreen()).toBe(9);
    expect(await barShown(9)).toBe(true);
    expect(await cp.root(vid).locator('[data-testid="slice-label"]').textContent()).toBe("10 / 12");
    // The kernel hears about the slice once the scrolling stops (it embeds ahead).
    for (let i = 0; i < 50 && (await cp.json<number>("console.log(JSON.stringify(v.slice))")) !== 9; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await cp.json<number>("console.log(JSON.stringify(v.slice))")).toBe(9);

    const [x, y] = screenOfVoxel(6 * 9 + 3, 35);
    await cp.click(vid, x, y);
    await cp.idle(vid);
    const slices = await cp.json<number[]>(`
const cur = v.current!;
const ks = new Set<number>();
for (let p = 0; p < cur.length; p++) if (cur[p]) ks.add(Math.floor(p / (${nx} * ${ny})));
console.log(JSON.stringify([...ks]))`);
    expect(slices).toEqual([9]);
    await cp.page.keyboard.press("c");
    await cp.idle(vid);
    const label = await cp.json<number>(`console.log(JSON.stringify(v.labels[${6 * 9 + 3} + ${nx} * (35 + ${ny} * 9)]))`);
    expect(label).toBe(1);

    // Shift+S propagates a new object from slice 9 through the volume (point + box: the analytic
    // model then gives the same disc on every slice, so propagation runs to both ends).
    await cp.click(vid, x, y);
    await cp.drag(vid, [x - 12, y - 12], [x + 12, y + 12]);
    await cp.idle(vid);
    await cp.page.keyboard.press("Shift+S");
    await cp.idle(vid);
    const propagated = await cp.json<number[]>(`
const cur2 = v.current!;
const ks2 = new Set<number>();
for (let p = 0; p < cur2.length; p++) if (cur2[p]) ks2.add(Math.floor(p / (${nx} * ${ny})));
console.log(JSON.stringify([...ks2].sort((a, b) => a - b)))`);
    expect(propagated).toEqual(Array.from({ length: nz }, (_, z) => z));
    await cp.root(vid).focus();
    await cp.page.keyboard.press("ArrowDown");
    await cp.waitForCanvas(vid, "data-slice", "==", 8);
    await cp.nextFrame();
    // On slice 8 this spot is background (gray 0) under the propagated mask.
    const shown = await cp.pixel(vid, x + 2, y);
    expect(near(shown, blendOver(0, HIGHLIGHT))).toBe(true);
    await cp.screenshot("08-volume");
  });

  it("measures click-to-mask latency in the browser", async () => {
    const clicks = 15;
    const ms = (await clickLatencies(cp, id, clicks, (n) => [120 + 8 * n, 330])).sort((a, b) => a - b);
    expect(ms).toHaveLength(clicks);
    const median = ms[Math.floor(ms.length / 2)]!;
    const p95 = ms[Math.min(ms.length - 1, Math.ceil(0.95 * ms.length) - 1)]!;
    const summary = { model: "analytic", image: "512x512", clicks, medianMs: +median.toFixed(1), p95Ms: +p95.toFixed(1), minMs: +ms[0]!.toFixed(1) };
    console.log(`click-to-mask latency (browser, ${summary.image}, ${summary.model} model): median ${summary.medianMs} ms, p95 ${summary.p95Ms} ms`);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, "latency.json"), `${JSON.stringify({ ...summary, all: ms }, null, 2)}\n`);
    // The target is 100 ms on a quiet machine; CI runners are shared, so only gross regressions fail here.
    expect(median).toBeLessThan(1000);
  });

  it("finds everything intact after a page reload", async () => {
    const before = await kernelState();
    await cp.page.close();
    ({ cp } = await CanvasPage.open(browser, server, url, kernelId));
    await cp.show(id, vid);
    await cp.idle(id);
    await cp.idle(vid);
    await cp.screenshot("09-reloaded");
    await expectShows(liver[0] + 30, liver[1], LABEL_COLORS[0]!, "label 1 after reload");
    await expectShows(PHANTOM.organs[2]!.center[0] + 10, PHANTOM.organs[2]!.center[1] + 10, LABEL_COLORS[2]!, "label 3 after reload");
    expect(await cp.root(id).locator('[data-testid="objects"] li').count()).toBe(3);
    expect(await kernelState()).toEqual(before);
    expect(await cp.canvas(vid).getAttribute("data-slice")).toBe("8");
    // And it still segments.
    await cp.click(id, 300, 300);
    await cp.idle(id);
    expect((await kernelState()).points).toBe(1);
    const unexpected = cp.consoleErrors.filter((e) => !/favicon|404 \(Not Found\)/.test(e));
    expect(unexpected).toEqual([]);
  });
});
