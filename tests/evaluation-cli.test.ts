import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../kernel/cli/evaluate.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { readSliceOf, viewMapping } from "../kernel/io/volume-view.js";
import { generatePhantomSlice } from "../kernel/phantom/index.js";

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "medicosam-evaluate-"));
  mkdirSync(join(dir, "images"));
  mkdirSync(join(dir, "labels"));
  for (const slice of [8, 16]) {
    const p = generatePhantomSlice({ seed: 2, modality: "ct", slice });
    // Soft-tissue window to 8 bits; the label map as 8-bit class ids.
    const gray = Uint8Array.from(p.data, (hu) => Math.max(0, Math.min(255, Math.round(((hu + 160) / 400) * 255))));
    const raw = { raw: { width: p.width, height: p.height, channels: 1 as const } };
    await sharp(gray, raw).toColourspace("b-w").png().toFile(join(dir, "images", `case${slice}.png`));
    // One label map as a gray PNG, the other as RGB with equal channels (both are accepted).
    const labels = sharp(p.labels, raw);
    await (slice === 8 ? labels.toColourspace("b-w") : labels).png().toFile(join(dir, "labels", `case${slice}.png`));
  }
  await sharp(new Uint8Array(16), { raw: { width: 4, height: 4, channels: 1 } }).png().toFile(join(dir, "images", "unlabelled.png"));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("medicosam evaluate", () => {
  it("writes the tables and the chart for a folder of images and label maps", async () => {
    const out = join(dir, "out");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const code = await run(["--model", "models/analytic", "--images", join(dir, "images"), "--labels", join(dir, "labels"), "--out", out, "--corrections", "2", "--dataset", "phantom"]);
  
      expect(err.mock.calls.map((c) => String(c[0])).join("\n")).toContain("1 image(s) without a label map are skipped: unlabelled");
      expect(code).toBe(0);
      expect(log.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/analytic-test\s+box\s+0/);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    for (const f of ["objects.csv", "classes.csv", "summary.csv", "results.json", "report.html", "report.png"]) expect(existsSync(join(out, f))).toBe(true);
    const summary = readFileSync(join(out, "summary.csv"), "utf8").trim().split("\n");
    expect(summary[0]).toBe("model,start,round,dice,iou,datasets");
    expect(summary).toHaveLength(1 + 2 * 3);
    const classes = readFileSync(join(out, "classes.csv"), "utf8").trim().split("\n");
    expect(classes[0]).toBe("dataset,model,image,start,classId,round,dice,iou,objects");
    expect(new Set(classes.slice(1).map((l) => l.split(",")[2]))).toEqual(new Set(["case8", "case16"]));
    expect(readFileSync(join(out, "report.png")).subarray(1, 4).toString()).toBe("PNG");
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("window.Plotly");
  }, 120_000);

  it("evaluates volumes slice by slice: chosen slices, or every slice that holds a label", async () => {
    const vols = join(dir, "volumes");
    mkdirSync(join(vols, "images"), { recursive: true });
    mkdirSync(join(vols, "labels"), { recursive: true });
    copyFileSync("data/samples/ct-phantom.nii.gz", join(vols, "images", "ct.nii.gz"));
    copyFileSync("data/samples/ct-phantom-labels.nii.gz", join(vols, "labels", "ct.nii.gz"));
    const args = ["--model", "models/analytic", "--images", join(vols, "images"), "--labels", join(vols, "labels"), "--corrections", "1"];
    const quiet = () => [vi.spyOn(console, "log").mockImplementation(() => {}), vi.spyOn(console, "error").mockImplementation(() => {})];
    let [log, err] = quiet();
    try {
      expect(await run([...args, "--out", join(vols, "chosen"), "--slices", "16,20-21"])).toBe(0);
    } finally {
      log!.mockRestore();
      err!.mockRestore();
    }
    const images = (file: string) => new Set(readFileSync(file, "utf8").trim().split("\n").slice(1).map((l) => l.split(",")[2]));
    expect(images(join(vols, "chosen", "classes.csv"))).toEqual(new Set(["ct axial 16", "ct axial 20", "ct axial 21"]));

    // Every slice with a label, in the coronal view: the empty ones are skipped and counted.
    const labels = await readNifti("data/samples/ct-phantom-labels.nii.gz");
    const m = viewMapping(labels, "coronal");
    let empty = 0;
    for (let z = 0; z < m.depth; z++) if (!readSliceOf(labels.data, labels.dims, m, z).some((v) => v !== 0)) empty++;
    expect(empty).toBeGreaterThan(0);
    [log, err] = quiet();
    try {
      expect(await run([...args, "--out", join(vols, "all"), "--view", "coronal", "--starts", "box", "--corrections", "0", "--min-size", "200"])).toBe(0);
      expect(err!.mock.calls.map((c) => String(c[0])).join("\n")).toContain(`note: ${empty} volume slice(s) without any label were skipped.`);
    } finally {
      log!.mockRestore();
      err!.mockRestore();
    }
    const evaluated = images(join(vols, "all", "classes.csv"));
    expect([...evaluated].every((name) => /^ct coronal \d+$/.test(name!))).toBe(true);
    expect(evaluated.size).toBeGreaterThan(0);
    expect(evaluated.size).toBeLessThanOrEqual(m.depth - empty);
  }, 300_000);

  it("says plainly when the files are the problem", async () => {
    const odd = join(dir, "odd");
    for (const sub of ["images", "labels", "pngs"]) mkdirSync(join(odd, sub), { recursive: true });
    writeFileSync(join(odd, "images", "scan.mha"), "ObjectType = Image\n");
    writeFileSync(join(odd, "images", "scan.nrrd"), "NRRD0004\n");
    copyFileSync("data/samples/ct-phantom-labels.nii.gz", join(odd, "labels", "scan.nii.gz"));
    copyFileSync("data/phantom-slice.png", join(odd, "pngs", "scan.png"));
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const message = () => String(err.mock.calls.at(-1)![0]);
    try {
      const base = ["--model", "models/analytic", "--out", join(odd, "out")];
      expect(await run([...base, "--images", join(odd, "images"), "--labels", join(odd, "labels")])).toBe(2);
      expect(message()).toMatch(/holds nothing medicosam evaluates \(found scan\.mha, scan\.nrrd\); it reads PNG, JPEG or TIFF images, NIfTI volumes/);
      expect(await run([...base, "--images", join(dir, "images"), "--labels", join(odd, "labels")])).toBe(2);
      expect(message()).toMatch(/no image in .* \(case16, case8, unlabelled\) has a label map of the same name in .*; label maps there: scan\./);
      expect(await run([...base, "--images", join(odd, "pngs"), "--labels", join(odd, "labels")])).toBe(2);
      expect(message()).toMatch(/scan\.png is a 2D image but its label map .*scan\.nii\.gz is a volume/);
      expect(await run([...base, "--images", join(dir, "images"), "--labels", join(dir, "labels"), "--slices", "3"])).toBe(2);
      expect(message()).toMatch(/--view and --slices choose slices of volumes; --images holds only 2D images/);
      expect(await run([...base, "--images", join(dir, "images"), "--labels", join(dir, "labels"), "--slices", "3-1"])).toBe(2);
      expect(message()).toMatch(/--slices takes slice numbers and ranges such as 10,12,20-24, not '3-1'/);
    } finally {
      err.mockRestore();
    }
  });

  it("explains bad arguments with exit code 2", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await run(["--model", "models/analytic", "--images", join(dir, "images")])).toBe(2);
      expect(String(err.mock.calls[0]![0])).toContain("--images, --labels and --out are all required");
      expect(await run(["--model", "models/analytic", "--images", join(dir, "images"), "--labels", join(dir, "labels"), "--out", dir, "--starts", "click"])).toBe(2);
      expect(String(err.mock.calls[1]![0])).toContain("--starts takes point and/or box, not 'click'");
    } finally {
      err.mockRestore();
    }
  });
});
