import { existsSync } from "node:fs";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { ImageGrid } from "../kernel/display/figures-images.js";
import { drawMarkers, drawOutline, labelColor, labelLegend, overlayPng } from "../kernel/display/overlay.js";
import { encodeRgbPngSync } from "../kernel/display/png.js";
import type { RgbImage8 } from "../kernel/io/image.js";
import { canRun } from "./helpers/require.js";

const FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

function gray(width: number, height: number, v = 100): RgbImage8 {
  return { width, height, data: new Uint8Array(width * height * 3).fill(v) };
}

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  return { info, at, data };
}

describe("overlay pictures", () => {
  it("draws markers with a dark rim and outlines on the boundary only", () => {
    const m = drawMarkers(gray(20, 20), [{ x: 10, y: 10, positive: true, size: 3 }, { x: 3, y: 3, positive: false }]);
    const at = (x: number, y: number) => Array.from(m.data.subarray(3 * (y * 20 + x), 3 * (y * 20 + x) + 3));
    expect(at(13, 10)).toEqual([0, 230, 0]);
    expect(at(14, 10)).toEqual([0, 0, 0]); // rim beyond the arm
    expect(at(13, 11)).toEqual([0, 0, 0]); // rim beside the arm
    expect(at(3, 3)).toEqual([230, 0, 0]);
    expect(at(18, 18)).toEqual([100, 100, 100]);
    const mask = new Uint8Array(400);
    for (let y = 5; y < 10; y++) for (let x = 5; x < 10; x++) mask[y * 20 + x] = 1;
    const o = drawOutline(gray(20, 20), mask, [255, 220, 0]);
    const ot = (x: number, y: number) => Array.from(o.data.subarray(3 * (y * 20 + x), 3 * (y * 20 + x) + 3));
    expect(ot(5, 7)).toEqual([255, 220, 0]);
    expect(ot(7, 7)).toEqual([100, 100, 100]);
  });

  it("adds a legend with each label's colour and name to the PNG", async () => {
    const mask = new Uint8Array(64 * 64);
    mask.fill(1, 0, 64 * 10);
    const png = await overlayPng(gray(64, 64), [{ mask, label: 1 }, { mask: new Uint8Array(64 * 64), label: 3 }], [{ x: 30, y: 30, positive: true }], {
      names: ["background", "liver", "spleen", "kidney"],
    });
    const { info, at, data } = await pixels(png);
    expect(info.width).toBe(64 + 170);
    expect(info.height).toBeGreaterThanOrEqual(64);
    // Swatches: rows 8..21 (label 1) and 30..43 (label 3), columns 8..23 of the legend.
    expect(at(64 + 15, 14)).toEqual([...labelColor(1)]);
    expect(at(64 + 15, 36)).toEqual([...labelColor(3)]);
    if (canRun(existsSync(FONT), "no fonts for the legend text (Debian package fonts-dejavu-core)")) {
      // The names are drawn: dark pixels right of the first swatch.
      let dark = 0;
      for (let y = 8; y < 22; y++) for (let x = 64 + 32; x < 64 + 120; x++) if (data[(y * info.width + x) * info.channels]! < 100) dark++;
      expect(dark).toBeGreaterThan(20);
    }
    expect(labelLegend([3, 1, 3], ["bg", "liver"]).map((e) => e.name)).toEqual(["liver", "label 3"]);
  });

  it("lays out image grids as HTML and as one PNG", async () => {
    const grid = new ImageGrid(
      [{ image: gray(100, 50, 10), caption: "first" }, { image: gray(100, 50, 200), caption: "second <b>" }, { image: gray(100, 50, 90) }],
      { title: "three", columns: 2, panelWidth: 100 },
    );
    const html = await grid.toHtml();
    expect(html.match(/<img /g)).toHaveLength(3);
    expect(html).toContain("second &lt;b&gt;");
    const { info, at } = await pixels(await grid.toPng());
    // 2 columns of 100 px with 10 px gaps; 2 rows of 50 + 22 px caption; 30 px title.
    expect(info.width).toBe(10 + 100 + 10 + 100 + 10);
    expect(info.height).toBe(30 + 10 + 72 + 10 + 72 + 10);
    expect(at(60, 40 + 25)).toEqual([10, 10, 10]);
    expect(at(120 + 50, 40 + 25)).toEqual([200, 200, 200]);
    expect(at(60, 40 + 72 + 10 + 25)).toEqual([90, 90, 90]);
    expect(() => new ImageGrid([])).toThrow(/at least one panel/);
  });

  it("encodes small PNGs synchronously, readable by libvips", async () => {
    const img = { width: 3, height: 2, data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9]) };
    const { info, data } = await sharp(encodeRgbPngSync(img)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([3, 2, 3]);
    expect(Array.from(data)).toEqual(Array.from(img.data));
  });
});
