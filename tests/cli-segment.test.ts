/**
 * `medicosam segment` / `embed` as a user runs them: the compiled CLI in a child process
 * (npm test builds dist/ first), on the shipped sample PNG and CT volume with the analytic test
 * model.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readImage } from "../kernel/io/read-image.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { readSliceOf, viewMapping } from "../kernel/io/volume-view.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = "bin/medicosam.js";
const CT = "data/samples/ct-phantom.nii.gz";
let out: string;

function medicosam(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function readMask(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const png = await readImage(path);
  expect(png.channels).toBe(1); // a gray PNG, not RGB
  return { data: png.data as Uint8Array, width: png.width, height: png.height };
}

beforeAll(() => {
  if (!existsSync("dist/kernel/cli.js")) throw new Error("dist/ is missing: run `npm run build` (npm test does it).");
  out = mkdtempSync(join(tmpdir(), "medicosam-cli-"));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("medicosam segment", () => {
  it("writes mask.png, low_res_logits.f32 and result.json for a click", async () => {
    const dir = join(out, "click");
    const r = medicosam("segment", "--model", "models/analytic", "data/phantom-slice.png", "--point", "140,150,1", "--out", dir);
    expect(r.stderr).toMatch(/not MedicoSAM/); // the test model says what it is
    expect(r.code).toBe(0);
    const mask = await readMask(join(dir, "mask.png"));
    expect([mask.width, mask.height]).toEqual([384, 320]);
    let area = 0;
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < mask.data.length; i++) {
      expect([0, 255]).toContain(mask.data[i]);
      if (mask.data[i]) {
        area++;
        sx += i % mask.width;
        sy += Math.floor(i / mask.width);
      }
    }
    expect(Math.abs(sx / area - 140)).toBeLessThanOrEqual(1);
    expect(Math.abs(sy / area - 150)).toBeLessThanOrEqual(1);
    expect(statSync(join(dir, "low_res_logits.f32")).size).toBe(256 * 256 * 4);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    expect(result.ious).toHaveLength(4);
    expect(result.token).toBe(2);
    expect(result.originalSize).toEqual({ width: 384, height: 320 });
    expect(result.resizedSize).toEqual({ width: 1024, height: 853 });
    expect(result.maskArea).toBe(area);
  });

  it("result.json lists every candidate; --save-candidates writes their masks and logits", async () => {
    const plain = join(out, "click");
    const listed = JSON.parse(readFileSync(join(plain, "result.json"), "utf8"));
    expect(listed.candidates.map((c: { token: number }) => c.token)).toEqual([0, 1, 2, 3]);
    expect(listed.candidates.map((c: { iou: number }) => c.iou)).toEqual(listed.ious);
    expect(listed.candidates.filter((c: { chosen: boolean }) => c.chosen).map((c: { token: number }) => c.token)).toEqual([listed.token]);
    expect(listed.candidates[listed.token].maskArea).toBe(listed.maskArea);
    expect(existsSync(join(plain, "candidate-0.png"))).toBe(false); // only on request

    const dir = join(out, "candidates");
    const r = medicosam("segment", "--model", "models/analytic", "data/phantom-slice.png", "--point", "140,150,1", "--save-candidates", "--out", dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/candidates: token 0: \d+ px, IoU 0\.950; .*token 2: \d+ px, IoU 0\.900 \(chosen\)/);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    const areas: number[] = [];
    for (const c of result.candidates) {
      expect(c.files).toEqual({ mask: `candidate-${c.token}.png`, lowResLogits: `candidate-${c.token}.f32` });
      const mask = await readMask(join(dir, c.files.mask));
      const area = mask.data.reduce((n, v) => n + (v ? 1 : 0), 0);
      expect(area).toBe(c.maskArea);
      areas.push(area);
      expect(statSync(join(dir, c.files.lowResLogits)).size).toBe(256 * 256 * 4);
    }
    // The analytic decoder's discs have radii 96, 32, 64, 128: areas in that order.
    expect(areas[1]! < areas[2]! && areas[2]! < areas[0]! && areas[0]! < areas[3]!).toBe(true);
    expect((await readMask(join(dir, "candidate-2.png"))).data).toEqual((await readMask(join(dir, "mask.png"))).data);
    expect(readFileSync(join(dir, "candidate-2.f32"))).toEqual(readFileSync(join(dir, "low_res_logits.f32")));
  });

  it("reads its own low_res_logits.f32 back with --mask-input", async () => {
    const first = join(out, "click");
    const dir = join(out, "again");
    const r = medicosam(
      "segment", "--model", "models/analytic", "data/phantom-slice.png",
      "--mask-input", join(first, "low_res_logits.f32"), "--out", dir,
    );
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "low_res_logits.f32"))).toEqual(readFileSync(join(first, "low_res_logits.f32")));
    expect((await readMask(join(dir, "mask.png"))).data).toEqual((await readMask(join(first, "mask.png"))).data);
  });

  it("bounds the mask by --box and reuses an embedding from `medicosam embed`", async () => {
    const emb = join(out, "emb");
    const e = medicosam("embed", "--model", "models/analytic", "data/phantom-slice.png", "--out", emb);
    expect(e.code).toBe(0);
    expect(statSync(join(emb, "embedding.f32")).size).toBe(256 * 64 * 64 * 4);
    const dir = join(out, "box");
    const r = medicosam(
      "segment", "--model", "models/analytic", "data/phantom-slice.png", "--embedding", emb,
      "--box", "214,148,310,204", "--point", "262,176,1", "--out", dir,
    );
    expect(r.code).toBe(0);
    const mask = await readMask(join(dir, "mask.png"));
    for (let i = 0; i < mask.data.length; i++) {
      if (!mask.data[i]) continue;
      const x = i % mask.width;
      const y = Math.floor(i / mask.width);
      expect(x >= 213 && x <= 311 && y >= 147 && y <= 205).toBe(true);
    }
  });

  it.each([
    [["--model", "models/analytic", "data/phantom-slice.png", "--point", "1,2", "--out", "x"], /x,y,label/],
    [["--model", "models/analytic", "data/phantom-slice.png", "--point", "1,2,7", "--out", "x"], /must be 1 \(foreground\) or 0/],
    [["--model", "models/analytic", "data/phantom-slice.png", "--out", "x"], /no prompt/],
    [["--model", "models/analytic", "data/phantom-slice.png", "--point", "1,2,1"], /--out DIR is required/],
    [["--model", "models/analytic", "data/phantom-slice.png", "--box", "1,2,3", "--out", "x"], /x0,y0,x1,y1/],
    [["--model", "models/analytic", "data/phantom-slice.png", "--point", "1,2,1", "--multimask", "maybe", "--out", "x"], /auto, on, off/],
    [["data/phantom-slice.png", "--point", "1,2,1", "--out", "x"], /no model/],
    [["--model", "models/analytic", "--precision", "int4", "data/phantom-slice.png", "--point", "1,2,1", "--out", "x"], /fp32 or int8/],
    [["--model", "models/analytic", "data/phantom-slice.png", "--frobnicate", "--out", "x"], /Unknown option/],
  ])("bad arguments %j: usage and exit 2", (args, message) => {
    const r = medicosam("segment", ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: medicosam segment/);
  });

  it("a point outside the image: a clear error and exit 1", () => {
    const r = medicosam("segment", "--model", "models/analytic", "data/phantom-slice.png", "--point", "999,10,1", "--out", join(out, "bad"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/outside the 384x320 image/);
  });

  it("segments one slice of a NIfTI volume: mask.png of the slice, mask.nii.gz in the volume's geometry", async () => {
    const dir = join(out, "volume");
    const r = medicosam("segment", "--model", "models/analytic", CT, "--slice", "20", "--point", "100,120,1", "--out", dir);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    expect(result.volume).toMatchObject({ view: "axial", slice: 20, slices: 32, dims: [256, 224, 32], screen: { left: "R", top: "A" } });
    expect(result.originalSize).toEqual({ width: 256, height: 224 });
    const mask = await readMask(join(dir, "mask.png"));
    expect([mask.width, mask.height]).toEqual([256, 224]);
    let sx = 0;
    let sy = 0;
    let area = 0;
    mask.data.forEach((v, i) => {
      if (!v) return;
      area++;
      sx += i % mask.width;
      sy += Math.floor(i / mask.width);
    });
    expect(Math.abs(sx / area - 100)).toBeLessThanOrEqual(1); // the analytic model's disc around the click
    expect(Math.abs(sy / area - 120)).toBeLessThanOrEqual(1);
    // The NIfTI holds the same mask on that slice of the volume and nothing elsewhere.
    const [saved, ct] = await Promise.all([readNifti(join(dir, "mask.nii.gz")), readNifti(CT)]);
    expect(saved.dims).toEqual(ct.dims);
    expect(saved.affine).toEqual(ct.affine);
    const m = viewMapping(ct, "axial");
    const onSlice = readSliceOf(saved.data as Uint8Array, saved.dims, m, 20);
    expect(Array.from(onSlice, (v) => (v ? 255 : 0))).toEqual(Array.from(mask.data));
    let total = 0;
    for (const v of saved.data) total += v;
    expect(total).toBe(area);
  });

  it("takes --view coronal, and embed + segment --embedding work on a volume slice", async () => {
    const emb = join(out, "volume-emb");
    const e = medicosam("embed", "--model", "models/analytic", CT, "--view", "coronal", "--slice", "100", "--out", emb);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/coronal slice 100 of .*ct-phantom\.nii\.gz, 256x32/);
    const dir = join(out, "volume-coronal");
    const r = medicosam("segment", "--model", "models/analytic", CT, "--view", "coronal", "--slice", "100", "--embedding", emb, "--point", "120,16,1", "--out", dir);
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    expect(result.volume).toMatchObject({ view: "coronal", slice: 100, slices: 224, screen: { left: "R", top: "S" } });
    expect(result.originalSize).toEqual({ width: 256, height: 32 });
    expect(result.maskArea).toBeGreaterThan(0);
  });

  it.each([
    [["segment", "--model", "models/analytic", CT, "--point", "1,1,1", "--out", "x"], /NIfTI volume of 256x224x32 voxels: give --slice N \(axial: 0\.\.31/],
    [["segment", "--model", "models/analytic", CT, "--slice", "32", "--point", "1,1,1", "--out", "x"], /--slice 32 is outside the axial slices .*\(0\.\.31\)/],
    [["segment", "--model", "models/analytic", CT, "--view", "oblique", "--slice", "1", "--point", "1,1,1", "--out", "x"], /--view must be one of axial, coronal, sagittal/],
    [["segment", "--model", "models/analytic", CT, "--page", "1", "--slice", "1", "--point", "1,1,1", "--out", "x"], /--page picks a TIFF page; .* is a NIfTI volume/],
    [["segment", "--model", "models/analytic", "data/phantom-slice.png", "--slice", "1", "--point", "1,1,1", "--out", "x"], /--view and --slice choose a slice of a volume; .* is a 2D PNG image/],
    [["embed", "--model", "models/analytic", CT, "--out", "x"], /give --slice N/],
  ])("volume arguments that do not fit %j: usage and exit 2", (args, message) => {
    const r = medicosam(...args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it("a file in no format it reads: says so, with the formats it does read", () => {
    const r = medicosam("segment", "--model", "models/analytic", "package.json", "--point", "1,1,1", "--out", join(out, "bad-format"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/package\.json: not a format medicosam reads \(first bytes 7b .*\)\. It reads 2D images: PNG, JPEG, TIFF; volumes: NIfTI/);
  });

  it("unknown commands list the commands", () => {
    const r = medicosam("segmnet");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'segmnet'[\s\S]*segment/);
  });
});
