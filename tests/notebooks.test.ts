/**
 * The tutorials (notebooks/*.ipynb) run top to bottom on our kernel with Debian's nbclient,
 * errors not allowed, in an isolated Jupyter whose kernelspec `medicosam install` wrote. Then
 * each one is checked for what it promises to show, and 03/04 are exported to HTML with
 * nbconvert: the PCA picture and the Dice-per-round plot must survive the export.
 *
 * The committed notebooks are read, never written: executed copies and HTML go to a temp dir
 * (the notebooks run with cwd = notebooks/, so their relative data paths are the real ones).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readNifti } from "../kernel/io/nifti-read.js";
import { findModelFolder } from "../kernel/sam/registry.js";
import { canRun } from "./helpers/require.js";
import { jupyterEnv, PYTHON, pythonHas, type JupyterEnv } from "../widgets/harness/jupyter-env.js";
import { REPO } from "./jupyter/helpers/kernel-process.js";
import type { NotebookOutput } from "./helpers/notebook-output.js";

const available = pythonHas("nbclient", "nbformat", "jupyter_client", "nbconvert");
const NOTEBOOKS = join(REPO, "notebooks");
const OUT = join(REPO, "out", "tutorials");
const DRIVER = join(REPO, "tests", "jupyter", "nbclient", "run_notebook.py");
const NAMES = ["01-quickstart", "02-volumes", "03-embeddings", "04-interactive-evaluation", "05-canvas", "06-automatic", "07-semantic", "08-cohort"] as const;
type Name = (typeof NAMES)[number];

type Output = NotebookOutput;
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}
interface Notebook {
  nbformat: number;
  metadata: { kernelspec?: { name: string; display_name: string; language: string }; widgets?: Record<string, { state: Record<string, { model_name: string }> }> };
  cells: Cell[];
}

const joined = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join("") : (t ?? ""));
const readNotebook = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Notebook;
const codeCells = (nb: Notebook) => nb.cells.filter((c) => c.cell_type === "code");
const outputs = (nb: Notebook) => codeCells(nb).flatMap((c) => c.outputs ?? []);
const stdout = (cell: Cell) => (cell.outputs ?? []).filter((o) => o.output_type === "stream" && o.name === "stdout").map((o) => joined(o.text)).join("");
const withMime = (nb: Notebook, mime: string) => outputs(nb).filter((o) => o.data && mime in o.data);

let jupyter: JupyterEnv | undefined;
let work = "";
const started = Date.now();
const running = new Set<ChildProcess>();
const executed = new Map<Name, Notebook>();

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = spawn(command, args, { cwd: jupyter!.root, env: jupyter!.env });
  running.add(proc);
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  return new Promise((resolve) =>
    proc.once("exit", (code) => {
      running.delete(proc);
      resolve({ code, output });
    }),
  );
}

/** Executes notebooks/<name>.ipynb (cwd notebooks/) into the temp dir; fails with nbclient's error text. */
async function execute(name: Name): Promise<Notebook> {
  const target = join(work, `${name}.ipynb`);
  const t0 = performance.now();
  const result = await run(PYTHON, [DRIVER, join(NOTEBOOKS, `${name}.ipynb`), target]);
  expect(result.code, `${name} failed under nbclient:\n${result.output}`).toBe(0);
  console.log(`${name}: executed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const nb = readNotebook(target);
  const errors = outputs(nb).filter((o) => o.output_type === "error" || (o.output_type === "stream" && o.name === "stderr"));
  expect(errors, `${name} has error or stderr outputs`).toEqual([]);
  executed.set(name, nb);
  return nb;
}

async function toHtml(name: Name): Promise<string> {
  const result = await run(PYTHON, ["-m", "nbconvert", "--to", "html", "--output-dir", work, join(work, `${name}.ipynb`)]);
  expect(result.code, `nbconvert of ${name} failed:\n${result.output}`).toBe(0);
  return readFileSync(join(work, `${name}.html`), "utf8");
}

/** The model the notebook's first code cell picks, and the notice its model.json carries. */
function pickedModel(nb: Notebook): { name: string; notice: string } {
  const first = joined(codeCells(nb)[0]!.source);
  const name = /^const MODEL = "([^"]+)";/m.exec(first)?.[1];
  expect(name, "the first code cell picks the model with `const MODEL = \"...\";`").toBeDefined();
  const manifest = JSON.parse(readFileSync(join(findModelFolder(name!), "model.json"), "utf8")) as { notice?: string };
  expect(manifest.notice, `model '${name}' has no notice in its model.json`).toBeTruthy();
  return { name: name!, notice: manifest.notice! };
}

/** A file the notebook wrote during this run (not one left over from an earlier one). */
function writtenNow(path: string): void {
  expect(existsSync(path), `${path} was not written`).toBe(true);
  expect(statSync(path).mtimeMs).toBeGreaterThanOrEqual(started - 1000);
}

function pngSizeOf(dataUrl: string): Promise<{ width?: number; height?: number }> {
  return sharp(Buffer.from(dataUrl.slice(dataUrl.indexOf(",") + 1), "base64")).metadata();
}

describe("the committed notebooks", () => {
  test("all eight exist, are clean nbformat 4 for the medicosam kernel, and start with a markdown intro", () => {
    expect(readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).sort()).toEqual(NAMES.map((n) => `${n}.ipynb`));
    for (const name of NAMES) {
      const nb = readNotebook(join(NOTEBOOKS, `${name}.ipynb`));
      expect(nb.nbformat, name).toBe(4);
      expect(nb.metadata.kernelspec, name).toEqual({ name: "medicosam", display_name: "MedicoSAM (TypeScript)", language: "typescript" });
      expect(nb.cells[0]!.cell_type, name).toBe("markdown");
      for (const cell of codeCells(nb)) {
        expect(cell.outputs, `${name}: committed with outputs`).toEqual([]);
        expect(cell.execution_count, `${name}: committed with execution counts`).toBeNull();
      }
      expect(nb.metadata.widgets, `${name}: committed with widget state`).toBeUndefined();
    }
  });
});

describe.skipIf(!canRun(available, "Debian's python3-nbclient and jupyter-nbconvert are not installed (apt-get install python3-nbclient jupyter-nbconvert)"))(
  "the tutorials under nbclient",
  () => {
    beforeAll(() => {
      jupyter = jupyterEnv();
      work = join(jupyter.root, "executed");
      mkdirSync(work);
    });
    afterAll(() => {
      for (const proc of running) proc.kill("SIGKILL");
      jupyter?.cleanup();
    });

    test("the kernelspec the notebooks name is the one `medicosam install` wrote", () => {
      const spec = JSON.parse(readFileSync(join(jupyter!.dataDir, "kernels", "medicosam", "kernel.json"), "utf8")) as { display_name: string; language: string };
      const nb = readNotebook(join(NOTEBOOKS, "01-quickstart.ipynb"));
      expect(nb.metadata.kernelspec).toMatchObject({ display_name: spec.display_name, language: spec.language });
    });

    test("01-quickstart: notice, pictures of click/box/correction, masks saved", { timeout: 180_000 }, async () => {
      const nb = await execute("01-quickstart");
      const { notice } = pickedModel(nb);
      expect(stdout(codeCells(nb)[0]!)).toContain(notice);
      // labels, click, box, corrected: each an overlay PNG of the 384x320 slice (plus the legend)
      const pngs = withMime(nb, "image/png");
      expect(pngs.length).toBeGreaterThanOrEqual(4);
      for (const o of pngs) {
        const meta = await sharp(Buffer.from(o.data!["image/png"] as string, "base64")).metadata();
        expect(meta.height).toBe(320);
        expect(meta.width).toBeGreaterThanOrEqual(384);
      }
      expect(outputs(nb).map((o) => joined(o.text)).join("")).toContain("read back identical: true");
      for (const file of ["round-organ.png", "oval-organ.png"]) {
        const path = join(OUT, "01-quickstart", file);
        writtenNow(path);
        const meta = await sharp(path).metadata();
        expect([meta.width, meta.height]).toEqual([384, 320]);
      }
    });

    test("02-volumes: propagation result saved as NIfTI with the CT's geometry", { timeout: 180_000 }, async () => {
      const nb = await execute("02-volumes");
      expect(stdout(codeCells(nb)[0]!)).toContain(pickedModel(nb).notice);
      const path = join(OUT, "02-volumes", "liver.nii.gz");
      writtenNow(path);
      const [saved, ct] = await Promise.all([readNifti(path), readNifti(join(REPO, "data", "samples", "ct-phantom.nii.gz"))]);
      expect(saved.dims).toEqual(ct.dims);
      expect(saved.affine).toEqual(ct.affine);
      const labels = new Set(Array.from(saved.data as ArrayLike<number>));
      expect([...labels].sort()).toEqual([0, 1]);
      expect(withMime(nb, "image/png").length).toBeGreaterThanOrEqual(3);
    });

    test("03-embeddings: the PCA picture next to the slice, in the notebook and in its HTML export", { timeout: 180_000 }, async () => {
      const nb = await execute("03-embeddings");
      expect(stdout(codeCells(nb)[0]!)).toContain(pickedModel(nb).notice);
      const html = await toHtml("03-embeddings");
      // The grid of the slice and its PCA picture: two PNG panels of the 256x224 slice.
      const grid = /<div class="medicosam-grid">(?:(?!<div class="medicosam-grid">)[\s\S])*?PC1-3 as RGB[\s\S]*?<\/figure>/.exec(html)?.[0];
      expect(grid, "the PCA grid is missing from the HTML export").toBeDefined();
      const images = [...grid!.matchAll(/<img src="(data:image\/png;base64,[^"]+)"/g)].map((m) => m[1]!);
      expect(images).toHaveLength(2);
      const sizes = await Promise.all(images.map(pngSizeOf));
      for (const s of sizes) expect([s.width, s.height]).toEqual([256, 224]);
      expect(images[0]).not.toBe(images[1]);
      // The PCA picture is colour (3 different components), not a copy of the gray slice.
      const { data, info } = await sharp(Buffer.from(images[1]!.slice(images[1]!.indexOf(",") + 1), "base64")).raw().toBuffer({ resolveWithObject: true });
      let colourful = 0;
      for (let i = 0; i < data.length; i += info.channels) if (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]) colourful++;
      expect(colourful, "the PCA picture has no coloured pixel").toBeGreaterThan(0);
      // The explained-variance and token charts: plotly HTML with their static pictures.
      expect((html.match(/class="medicosam-plot"/g) ?? []).length).toBeGreaterThanOrEqual(2);
      // It says the demo model is not MedicoSAM and does not present the analytic model as an encoder to compare with.
      const markdown = nb.cells.filter((c) => c.cell_type === "markdown").map((c) => joined(c.source)).join("\n");
      expect(markdown).toContain("demo model — not MedicoSAM");
      expect(codeCells(nb).map((c) => joined(c.source)).join("\n")).not.toMatch(/loadModel\("analytic"\)|COMPARE_WITH/);
      // Fitting inside the body takes PC1 off "body vs air": a smaller share of the variance.
      const pcLine = codeCells(nb).map(stdout).find((t) => t.includes("PC1 holds"));
      expect(pcLine, "the body-vs-air comparison prints PC1's share").toBeDefined();
      console.log(pcLine!.trim());
      const [all, body] = [...pcLine!.matchAll(/([\d.]+) % /g)].map((m) => Number(m[1]));
      expect(body!).toBeLessThan(all!);
      // The two fits, the similarity picture with its colour bar, two slices and two intensity modes.
      for (const caption of ["fitted inside the body", "clicked: liver", "slice 12", "window 40/400"]) expect(html).toContain(caption);
      expect(html).toMatch(/colour scale: min \.\. max of the map, inside the mask[\s\S]*?1\.00/);
    });

    test("04-interactive-evaluation: Dice per round for point and box starts, in the notebook and in its HTML export", { timeout: 240_000 }, async () => {
      const nb = await execute("04-interactive-evaluation");
      const { notice } = pickedModel(nb);
      expect(stdout(codeCells(nb)[0]!)).toContain(notice);
      const charts = withMime(nb, "text/html").filter((o) => (o.data!["text/html"] as string | string[]).toString().includes("medicosam-plot"));
      expect(charts.length).toBe(1);
      expect(charts[0]!.data!["image/png"], "the chart has no static PNG").toBeTruthy();

      const html = await toHtml("04-interactive-evaluation");
      expect(html).toContain("window.Plotly"); // the plotly.js bundle, inlined once
      const plot = /<div id="(medicosam-plot-[0-9a-f]+)" class="medicosam-plot"[^>]*><img src="data:image\/svg\+xml;base64,([^"]+)"[\s\S]*?var fig = (\{[\s\S]*?\});\n/.exec(html);
      expect(plot, "the plot (div, static SVG, figure JSON) is missing from the HTML export").not.toBeNull();
      expect(Buffer.from(plot![2]!, "base64").toString("utf8")).toContain("<svg");
      const fig = JSON.parse(plot![3]!) as { data: { name: string; x: number[]; y: number[]; xaxis: string }[]; layout: { annotations: { text: string }[] } };
      expect(fig.layout.annotations.map((a) => a.text)).toEqual(["point start", "box start"]);
      expect(new Set(fig.data.map((t) => t.xaxis))).toEqual(new Set(["x", "x2"]));
      // The plotted values are the ones the notebook saved as summary.csv.
      const csvPath = join(OUT, "04-interactive-evaluation", "summary.csv");
      writtenNow(csvPath);
      const rows = readFileSync(csvPath, "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
      for (const trace of fig.data) {
        const start = trace.xaxis === "x" ? "point" : "box";
        expect(trace.x).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        const expected = rows.filter((r) => r[0] === trace.name && r[1] === start).sort((a, b) => Number(a[2]) - Number(b[2]));
        expect(trace.y).toEqual(expected.map((r) => Math.round(Number(r[3]) * 1e4) / 1e4));
      }
      // The teaching views: 8 rounds each, as one HTML grid with PNG panels.
      expect((html.match(/point start and 7 correction rounds/g) ?? []).length).toBeGreaterThanOrEqual(1);
      expect((html.match(/box start and 7 correction rounds/g) ?? []).length).toBeGreaterThanOrEqual(1);
    });

    test("05-canvas: the widget is shown and saved in the notebook; labels read from code and saved", { timeout: 180_000 }, async () => {
      const nb = await execute("05-canvas");
      expect(stdout(codeCells(nb)[0]!)).toContain(pickedModel(nb).notice);
      const source = nb.cells.map((c) => joined(c.source)).join("\n");
      expect(source).toContain("needs JupyterLab");
      const views = withMime(nb, "application/vnd.jupyter.widget-view+json");
      expect(views).toHaveLength(2);
      const state = nb.metadata.widgets?.["application/vnd.jupyter.widget-state+json"]?.state ?? {};
      for (const view of views) {
        const { model_id } = view.data!["application/vnd.jupyter.widget-view+json"] as { model_id: string };
        expect(state[model_id]?.model_name, "the canvas's state is not saved in the notebook").toBeTruthy();
      }
      const png = join(OUT, "05-canvas", "labels.png");
      writtenNow(png);
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([384, 320]);
      const values = new Set<number>();
      for (let i = 0; i < data.length; i += info.channels) values.add(data[i]!);
      expect([...values].sort()).toEqual([0, 1, 2]);
      const volume = await readNifti(join(OUT, "05-canvas", "volume-labels.nii.gz"));
      writtenNow(join(OUT, "05-canvas", "volume-labels.nii.gz"));
      expect(volume.dims).toEqual([256, 224, 32]);
      // the propagation report, and a re-propagation from a slice above the seed when there was room
      const report = codeCells(nb).map(stdout).find((s) => s.includes("slices written")) ?? "";
      expect(report).toMatch(/^\d+ slices written; down: (iou|empty|edge) at slice -?\d+; up: (iou|empty|edge) at slice \d+/);
      console.log(`05-canvas propagation: ${report.trim()}`);
      // The session replayed on the same model: every object comes back with Dice 1.
      const replay = outputs(nb).find((o) => joined((o.data?.["text/plain"] ?? "") as string | string[]).includes("Dice replay vs original"));
      expect(replay, "the replay's table").toBeTruthy();
      const [header, ...rows] = joined(replay!.data!["text/plain"] as string | string[]).split("\n").slice(1).map((l) => l.trim().split(/\s{2,}/));
      const col = header!.indexOf("Dice replay vs original");
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const row of rows) expect(Number(row[col])).toBe(1);
    });

    test("07-semantic: a head trained on three slices, the volume predicted and scored, one correction round, the probe", { timeout: 600_000 }, async () => {
      const nb = await execute("07-semantic");
      expect(stdout(codeCells(nb)[0]!)).toContain(pickedModel(nb).notice);
      expect(joined(nb.cells[0]!.source)).toMatch(/demo model — not MedicoSAM/);
      const text = codeCells(nb).map(stdout).join("");
      expect(text).toMatch(/conv head, classes background, liver, spleen/);
      // the Dice table of the held-out slices: liver well above chance (0.87 measured)
      const html = withMime(nb, "text/html").map((o) => joined(o.data!["text/html"] as string | string[])).join("");
      const liver = /<td[^>]*>liver<\/td><td[^>]*>([0-9.]+)<\/td>/.exec(html);
      expect(liver, "the Dice table lists the liver").not.toBeNull();
      expect(Number(liver![1])).toBeGreaterThan(0.8);
      expect(html).toMatch(/Dice before.*Dice after/s);
      expect(html).toMatch(/analytic \(not a learned encoder\)/);
      expect(text).toMatch(/saved and reloaded: conv head for model 'demo'/);
      writtenNow(join(OUT, "07-semantic", "ct.head.json"));
      const labels = await readNifti(join(OUT, "07-semantic", "labels.nii.gz"));
      expect(labels.dims).toEqual([256, 224, 32]);
    });

    test("08-cohort: four volumes embedded and evaluated by two local workers, the report, the table, the Slurm script", { timeout: 300_000 }, async () => {
      const nb = await execute("08-cohort");
      expect(stdout(codeCells(nb)[0]!)).toContain(pickedModel(nb).notice);
      const text = codeCells(nb).map(stdout).join("");
      // the broken manifest: its three problems in one message, before anything ran
      expect(text).toMatch(/3 problems, nothing was started/);
      expect(text).toMatch(/line 3: id 'ct-1' is already used in line 2/);
      // two workers took the volumes between them
      expect(text).toMatch(/\[w1\] .*local worker 1: \S+: embedded/);
      expect(text).toMatch(/\[w2\] .*local worker 2: \S+: embedded/);
      const plain = outputs(nb).map((o) => joined((o.data?.["text/plain"] ?? "") as string | string[])).join("\n");
      expect(plain).toMatch(/embedding: 4\/4 done; slices 64\/64/);
      expect(plain).toMatch(/evaluation: 4\/4 done/);
      // the report: the chart with its static picture, and the table of both protocols
      const charts = withMime(nb, "text/html").filter((o) => joined(o.data!["text/html"] as string | string[]).includes("medicosam-plot"));
      expect(charts).toHaveLength(1);
      expect(charts[0]!.data!["image/png"], "the chart has no static PNG").toBeTruthy();
      expect(joined(charts[0]!.data!["text/html"] as string | string[])).toMatch(/<th>protocol<\/th><th>model<\/th><th>start<\/th><th>round<\/th><th>dice<\/th><th>iou<\/th><th>datasets<\/th>/);
      const table = join(OUT, "08-cohort", "table.csv");
      writtenNow(table);
      const rows = readFileSync(table, "utf8").trim().split("\n");
      expect(rows[0]).toBe("protocol,model,start,round,dice,iou,datasets");
      // 2D: 2 starts x (start + 3 corrections); 3D: the box prompt
      expect(rows.slice(1).map((r) => r.split(",").slice(0, 4).join(","))).toEqual([
        ...["box", "point"].flatMap((s) => [0, 1, 2, 3].map((k) => `2d,demo,${s},${k}`)),
        "3d,demo,box,0",
      ]);
      // the dry run: an array over the four volumes, with the options given, and nothing written
      expect(text).toMatch(/#SBATCH --array=0-3%20\n/);
      for (const line of ["#SBATCH --partition=cpu", "#SBATCH --time=04:00:00", "#SBATCH --mem=8G", "#SBATCH --cpus-per-task=4"]) expect(text).toContain(line);
      expect(text).toMatch(/cohort evaluate \S+cohort\.csv .*--task slurm --per-task 1/);
      expect(existsSync(join(OUT, "08-cohort", "results-paper"))).toBe(false);
    });

    test("06-automatic: the proposals and the label map drawn, masks.json and a 16-bit labels.png saved", { timeout: 300_000 }, async () => {
      const nb = await execute("06-automatic");
      expect(stdout(codeCells(nb)[0]!)).toContain(pickedModel(nb).notice);
      const intro = joined(nb.cells[0]!.source);
      expect(intro).toMatch(/demo model — not MedicoSAM/);
      // the truth, the proposals, the label map: PNGs of the 256x224 slice (legend beside the first)
      const pngs = withMime(nb, "image/png");
      expect(pngs.length).toBeGreaterThanOrEqual(3);
      for (const o of pngs) {
        const meta = await sharp(Buffer.from(o.data!["image/png"] as string, "base64")).metadata();
        expect(meta.height).toBe(224);
        expect(meta.width).toBeGreaterThanOrEqual(256);
      }
      const json = join(OUT, "06-automatic", "masks.json");
      const png = join(OUT, "06-automatic", "labels.png");
      writtenNow(json);
      writtenNow(png);
      const masks = JSON.parse(readFileSync(json, "utf8")) as { area: number; segmentation: { size: number[]; counts: number[] } }[];
      expect(masks.length).toBeGreaterThan(3);
      for (const m of masks) {
        expect(m.segmentation.size).toEqual([224, 256]);
        expect(m.segmentation.counts.reduce((a, b) => a + b, 0)).toBe(224 * 256);
        expect(m.segmentation.counts.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0)).toBe(m.area);
      }
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height, meta.depth]).toEqual([256, 224, "ushort"]);
    });
  },
);
