import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../kernel/cli/evaluate.js";
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
