/**
 * `medicosam info` as a user runs it: a real process, text and --json output, and a clear
 * message with exit code 1 for a bad file.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { geometryFromAffine, writeNifti } from "../kernel/io/nifti-write.js";
import { encodeDicomFile, sliceElements } from "./helpers/dicom-writer.js";
import { makePhantom } from "./helpers/phantom3d.js";

const dir = mkdtempSync(join(tmpdir(), "nifti-info-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ph = makePhantom({ dims: [20, 16, 8], spacing: [0.75, 0.8, 2.5], obliqueDeg: 10 });
const stored = Array.from(ph.image, (x) => Math.round(x) + 1024);

function info(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "kernel/cli.ts", "info", ...args], {
    encoding: "utf8",
    cwd: join(import.meta.dirname, ".."),
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  await writeNifti(
    join(dir, "ct.nii.gz"),
    { dims: [...ph.dims], data: stored, datatype: "int16", geometry: geometryFromAffine(ph.affine, { qform: 1, sform: 2 }), scaling: { slope: 1, inter: -1024 } },
    { littleEndian: false },
  );
});

describe("medicosam info", () => {
  it("prints format, dims, datatype, spacing, affine and its source, orientation, scaling and value statistics", () => {
    const r = info(join(dir, "ct.nii.gz"));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/format\s+NIfTI-1, gzip, big-endian/);
    expect(r.out).toMatch(/dims\s+20 x 16 x 8/);
    expect(r.out).toMatch(/datatype\s+int16 \(code 4\)/);
    expect(r.out).toMatch(/spacing\s+0\.75 x 0\.8 x 2\.5 mm/);
    expect(r.out).toMatch(/affine\s+from sform \(sform_code 2\)/);
    expect(r.out).toMatch(/orientation\s+RAS/);
    expect(r.out).toMatch(/scaling\s+value = stored \* 1 \+ -1024/);
    const min = Math.min(...stored) - 1024;
    const max = Math.max(...stored) - 1024;
    expect(r.out).toContain(`min ${min}, max ${max}`);
  });

  it("--json gives the same facts as numbers", () => {
    const r = info(join(dir, "ct.nii.gz"), "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.dims).toEqual([20, 16, 8]);
    expect(j.orientation).toBe("RAS");
    expect(j.affineSource).toMatch(/^sform/);
    expect(j.scaling).toEqual({ slope: 1, inter: -1024 });
    const mean = stored.reduce((a, b) => a + b, 0) / stored.length - 1024;
    expect(j.stats.mean).toBeCloseTo(mean, 3);
    for (let r2 = 0; r2 < 3; r2++) for (let c = 0; c < 4; c++) expect(j.affine[r2][c]).toBeCloseTo(ph.affine[r2]![c]!, 4);
    expect(j.views.axial).toEqual({ width: 20, height: 16, depth: 8, aspect: expect.closeTo(0.8 / 0.75, 5) });
  });

  it("a bad file: one clear line on stderr and exit code 1", () => {
    writeFileSync(join(dir, "bad.nii"), new Uint8Array(100).fill(7));
    const r = info(join(dir, "bad.nii"));
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^medicosam info: .*bad\.nii: not a NIfTI file/);
    const missing = info(join(dir, "nope.nii"));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/not found/);
  });

  it("describes a DICOM series folder", () => {
    const d = join(dir, "series");
    mkdirSync(d);
    for (let k = 0; k < 3; k++) {
      const pixels = Int16Array.from({ length: 12 }, (_, p) => p * 10 - k);
      const spec = { rows: 3, columns: 4, pixels, signed: true, position: [0, 0, 5 * k], orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.6] };
      writeFileSync(join(d, `${k}.dcm`), encodeDicomFile(sliceElements(spec), "explicit-le"));
    }
    const r = info(d);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/format\s+DICOM, 3 file\(s\), Explicit VR Little Endian/);
    expect(r.out).toMatch(/dims\s+4 x 3 x 3/);
    expect(r.out).toMatch(/spacing\s+0\.6 x 0\.5 x 5 mm/);
    expect(r.out).toMatch(/orientation\s+LPS/);
    expect(r.out).toContain("min -2, max 110");
  });

  it("usage errors exit with 2", () => {
    expect(info().code).toBe(2);
    expect(info("--volume", "x", "a.nii").code).toBe(2);
  });
});
