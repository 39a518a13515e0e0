/**
 * Anisotropic slices at millimetre scale: the coarser axis's pixels are repeated (nearest, so
 * values stay exact), the finer axis is kept, and overlays put masks and points on the same grid.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { displaySize, pointToDisplayScale, scaleBands, toDisplayScale } from "../kernel/display/display-scale.js";
import { overlayPng } from "../kernel/display/overlay.js";
import type { RgbImage8 } from "../kernel/io/image.js";

function ramp(width: number, height: number): RgbImage8 {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([i % 256, (i * 7) % 256, (i * 13) % 256], 3 * i);
  return { width, height, data };
}

describe("toDisplayScale", () => {
  it("makes pixels square in millimetres by stretching the coarser axis", () => {
    expect(displaySize(256, 32, { x: 1.3, y: 7.2 })).toEqual({ width: 256, height: Math.round((32 * 7.2) / 1.3) });
    expect(displaySize(40, 100, { x: 2, y: 0.5 })).toEqual({ width: 160, height: 100 });
    expect(displaySize(10, 10, { x: 0.8, y: 0.8 })).toEqual({ width: 10, height: 10 });
  });

  it("repeats each row (or column) a whole number of times when the ratio is whole", () => {
    const img = ramp(5, 4);
    const tall = toDisplayScale(img, { x: 1, y: 3 });
    expect([tall.width, tall.height]).toEqual([5, 12]);
    for (let y = 0; y < 12; y++) {
      expect(Array.from(tall.data.subarray(y * 15, (y + 1) * 15))).toEqual(Array.from(img.data.subarray(Math.floor(y / 3) * 15, (Math.floor(y / 3) + 1) * 15)));
    }
    const wide = toDisplayScale(img, { x: 2, y: 1 });
    expect([wide.width, wide.height]).toEqual([10, 4]);
    for (let x = 0; x < 10; x++) expect(Array.from(wide.data.subarray(3 * x, 3 * x + 3))).toEqual(Array.from(img.data.subarray(3 * (x >> 1), 3 * (x >> 1) + 3)));
  });

  it("keeps only values that were there (nearest) for a non-whole ratio", () => {
    const mask = Uint8Array.from({ length: 6 * 5 }, (_, i) => i % 3);
    const scaled = scaleBands(mask, 6, 5, 1, { x: 1.3, y: 7.2 });
    expect(scaled.height).toBe(28);
    expect(new Set(scaled.data)).toEqual(new Set([0, 1, 2]));
    // every display row is a copy of some source row, in order
    let last = -1;
    for (let y = 0; y < scaled.height; y++) {
      const row = Array.from(scaled.data.subarray(y * 6, y * 6 + 6));
      const src = [0, 1, 2, 3, 4].find((r) => Array.from(mask.subarray(r * 6, r * 6 + 6)).join() === row.join() && r >= last)!;
      expect(src).toBeGreaterThanOrEqual(last);
      last = src;
    }
  });

  it("puts a point at the centre of its block, and refuses a spacing that is not two positive numbers", () => {
    expect(pointToDisplayScale({ x: 2, y: 1, positive: true }, 5, 4, { x: 1, y: 3 })).toEqual({ x: 2, y: 4, positive: true });
    expect(() => toDisplayScale(ramp(2, 2), { x: 0, y: 1 })).toThrow(/two positive numbers/);
  });

  it("overlayPng with aspect draws the stretched image, its masks and points", async () => {
    const img = ramp(20, 4);
    const mask = new Uint8Array(80);
    mask[2 * 20 + 5] = 1;
    const png = await overlayPng(img, [{ mask, label: 1 }], [{ x: 15, y: 1, positive: true }], { aspect: { x: 1, y: 4 }, legend: false });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([20, 16]);
    const at = (x: number, y: number) => Array.from(data.subarray((y * 20 + x) * info.channels, (y * 20 + x) * info.channels + 3));
    // the masked voxel (5, 2) became rows 8..11 of column 5, drawn opaque (a one-pixel mask is all edge)
    for (let y = 8; y < 12; y++) expect(at(5, y)).toEqual([31, 119, 180]);
    expect(at(5, 7)).toEqual(Array.from(img.data.subarray(3 * (1 * 20 + 5), 3 * (1 * 20 + 5) + 3)));
    // the point (15, 1) is drawn at the centre of its block: (15, 6)
    expect(at(15, 6)).toEqual([0, 230, 0]);
  });
});
