/**
 * The widget's mask codec: byte layouts worked out by hand from the format description,
 * round trips of random label maps, and every kind of malformed input a front end or a
 * truncated message could produce.
 */
import { describe, expect, it } from "vitest";
import {
  MaskCodecError,
  decodeRle,
  decodeStack,
  encodeRle,
  encodeStack,
  rleArea,
  rleIsEmpty,
} from "../widgets/segment-canvas/common/mask-codec.js";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("RLE of one slice", () => {
  it("writes (value, run) pairs as LEB128 varints", () => {
    expect([...encodeRle([0, 0, 1, 1, 1, 0])]).toEqual([0, 2, 1, 3, 0, 1]);
    // 300 = 0b10_0101100 -> 0xAC 0x02; label 200 -> 0xC8 0x01
    const run = new Uint16Array(300).fill(200);
    expect([...encodeRle(run)]).toEqual([0xc8, 0x01, 0xac, 0x02]);
    expect([...encodeRle([])]).toEqual([]);
  });

  it("uses five-byte varints for sizes past 2^28", () => {
    // 2^31 = 0x8000_0000: four continuation bytes of 0, then 0x08.
    const stack = encodeStack({ width: 2 ** 31, height: 1, depth: 1 }, new Map());
    expect([...stack]).toEqual([1, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 1, 0]);
    expect(decodeStack(stack).width).toBe(2 ** 31);
  });

  it("decodes into the requested array type and counts the area without decoding", () => {
    const rle = bytes(0, 2, 7, 3, 0, 1);
    expect([...decodeRle(rle, 6)]).toEqual([0, 0, 7, 7, 7, 0]);
    expect([...decodeRle(bytes(0xc8, 0x02, 2), 2, new Uint16Array(2))]).toEqual([328, 328]);
    expect(rleArea(rle)).toBe(3);
    expect(rleIsEmpty(bytes(0, 6))).toBe(true);
    expect(rleIsEmpty(bytes())).toBe(true);
    expect(rleIsEmpty(rle)).toBe(false);
  });

  it("overwrites a reused output buffer completely", () => {
    const out = new Uint8Array(4).fill(9);
    expect([...decodeRle(bytes(0, 3, 1, 1), 4, out)]).toEqual([0, 0, 0, 1]);
  });

  it("round-trips random label maps of every label width", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const max of [1, 255, 65535]) {
      const n = 3000;
      const values = new Uint32Array(n);
      let v = 0;
      for (let i = 0; i < n; i++) {
        if (rand() < 0.05) v = Math.floor(rand() * (max + 1));
        values[i] = v;
      }
      const out = decodeRle(encodeRle(values), n, new Uint32Array(n));
      expect(out).toEqual(values);
    }
  });

  it("keeps a 512x512 disc mask under 1 KB", () => {
    const w = 512;
    const mask = new Uint8Array(w * w);
    let area = 0;
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) if ((x - 200) ** 2 + (y - 220) ** 2 <= 32 ** 2) {
      mask[y * w + x] = 1;
      area++;
    }
    const rle = encodeRle(mask);
    // 65 rows with 2 runs each plus the edges: about 4 bytes per run.
    expect(rle.length).toBeLessThan(1024);
    expect(rleArea(rle)).toBe(area);
  });

  it("rejects malformed runs with a message that says what is wrong", () => {
    const bad: [Uint8Array, number, RegExp][] = [
      [bytes(0, 2, 1), 3, /truncated/],
      [bytes(0, 0, 1, 3), 3, /length 0/],
      [bytes(0, 2, 0, 1), 3, /alternate/],
      [bytes(0, 2, 1, 5), 3, /more than the 3 pixels/],
      [bytes(0, 2), 3, /cover 2 pixels, the slice has 3/],
      [bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 3, /longer than 5 bytes/],
      [bytes(0x80, 0x80, 0x80, 0x80, 0x20, 1), 1, /larger than 2\^32/],
    ];
    for (const [rle, n, message] of bad) {
      expect(() => decodeRle(rle, n), `${[...rle]}`).toThrow(message);
      expect(() => decodeRle(rle, n)).toThrow(MaskCodecError);
    }
    expect(() => decodeRle(bytes(0x80, 0x02, 1), 1)).toThrow(/value 256 .* does not fit the Uint8Array/);
  });
});

describe("slice stacks", () => {
  const shape = { width: 4, height: 3, depth: 5 };

  it("lists only non-empty slices, in increasing order, after the header", () => {
    const s3 = encodeRle([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]); // 0x2 1x2 0x8
    const s1 = encodeRle(new Array(12).fill(2));
    const empty = encodeRle(new Array(12).fill(0));
    const stack = encodeStack(shape, new Map([[3, s3], [4, empty], [1, s1]]));
    expect([...stack]).toEqual([1, 4, 3, 5, 2, /* z */ 1, 2, 2, 12, /* z */ 3, 6, 0, 2, 1, 2, 0, 8]);
    const read = decodeStack(stack, shape);
    expect([...read.slices.keys()]).toEqual([1, 3]);
    expect([...decodeRle(read.slices.get(3)!, 12)]).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("is a handful of bytes for an empty volume of any size", () => {
    const big = { width: 512, height: 512, depth: 300 };
    expect(encodeStack(big, new Map()).length).toBeLessThanOrEqual(8);
  });

  it("rejects stacks that do not fit the image or are out of order", () => {
    const good = encodeStack(shape, new Map([[2, encodeRle(new Array(12).fill(1))]]));
    expect(() => decodeStack(good, { width: 4, height: 3, depth: 6 })).toThrow(/4x3x5 but the image is 4x3x6/);
    expect(() => decodeStack(Uint8Array.from([2, ...good.subarray(1)]))).toThrow(/version 2 is not supported/);
    expect(() => decodeStack(Uint8Array.from([...good, 0]))).toThrow(/1 bytes after its last slice/);
    expect(() => decodeStack(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(() => decodeStack(bytes(1, 4, 3, 5, 2, 3, 0, 1, 0))).toThrow(/slice 1 comes after slice 3/);
    expect(() => decodeStack(bytes(1, 4, 3, 5, 1, 5, 0))).toThrow(/slice 5 is outside 0..4/);
    expect(() => decodeStack(bytes(1, 4, 3, 5, 6))).toThrow(/lists 6 slices but has depth 5/);
    expect(() => decodeStack(bytes(1, 0, 3, 5, 0))).toThrow(/width 0 is not a positive integer/);
    expect(() => encodeStack(shape, new Map([[7, encodeRle([1])]]))).toThrow(/slice index 7 is outside/);
  });
});
