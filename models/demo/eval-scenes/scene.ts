/**
 * The EVALUATION family: held-out scenes from a generator that training never used (see
 * models/demo/GENERATORS.md). Six styles, each with its own imaging model:
 *
 * - `organs`: CT-like HU (int16) from attenuation values; metaball organs in a metaball body,
 *   some denser and some less dense than the tissue around them; grating texture.
 * - `mri`: magnitudes (float32) with a quadratic bias field and Rician noise; metaballs and
 *   smoothed polygons, fluid-bright or fluid-dark.
 * - `cells`: fluorescence counts (uint16) with shot noise; Voronoi cells that touch their
 *   neighbours, stained cytoplasm or stained membranes only.
 * - `histology`: RGB (uint8) by Beer-Lambert mixing of two stains; nuclei (dark) and glands
 *   (a stained wall around a pale lumen).
 * - `ultrasound`: echogenicity times Rayleigh speckle, log-compressed (uint8); hypo- and
 *   hyperechoic polygons.
 * - `xray`: transmitted intensity exp(-mu * thickness) (float32) of blurred polygon bones and
 *   metaball soft tissue, shown inverted or not.
 *
 * A scene is a function of its seed (kernel/analysis's SeededRandom, not the phantoms' Rng).
 */
import type { Image2D } from "../../../kernel/io/image.js";
import type { IntensitySpec } from "../../../kernel/intensity/spec.js";
import { SeededRandom } from "../../../kernel/analysis/rng.js";
import { between, boxBlur3, fillMetaballs, fillPolygon, gauss, gratings, randomPolygon, voronoi, type Ball, type Vec } from "./draw.js";

export type EvalStyle = "organs" | "mri" | "cells" | "histology" | "ultrasound" | "xray";
export const EVAL_STYLES: readonly EvalStyle[] = ["organs", "mri", "cells", "histology", "ultrasound", "xray"];

export interface EvalScene {
  readonly seed: number;
  readonly style: EvalStyle;
  readonly image: Image2D;
  /** Instance labels (0 = background). */
  readonly labels: Uint8Array;
  /** What a user would pick for this kind of image. */
  readonly intensity: IntensitySpec;
}

function size(r: SeededRandom): [number, number] {
  const long = Math.round(Math.exp(between(r, Math.log(90), Math.log(1500))));
  const short = Math.round(long * between(r, 0.65, 1));
  return r.next() < 0.5 ? [long, short] : [short, long];
}

function metaballObject(r: SeededRandom, cx: number, cy: number, radius: number): Ball[] {
  const n = 1 + r.int(4);
  return Array.from({ length: n }, (_, i) => ({
    x: cx + (i ? gauss(r) * radius * 0.6 : 0),
    y: cy + (i ? gauss(r) * radius * 0.6 : 0),
    r: radius * between(r, 0.45, 0.8),
  }));
}

/** Places up to `count` object masks (as a class map of ids 1..) that do not overlap each other. */
function placeObjects(r: SeededRandom, w: number, h: number, count: number, region: Uint8Array | undefined, draw: (mask: Uint8Array, id: number, cx: number, cy: number, rad: number) => void): Uint8Array {
  const labels = new Uint8Array(w * h);
  const scratch = new Uint8Array(w * h);
  const minSide = Math.min(w, h);
  let id = 0;
  for (let attempt = 0; attempt < count * 20 && id < count; attempt++) {
    const rad = Math.exp(between(r, Math.log(5), Math.log(minSide * 0.38)));
    const cx = between(r, 0, w);
    const cy = between(r, 0, h);
    if (region && !region[Math.floor(cy) * w + Math.floor(cx)]) continue;
    scratch.fill(0);
    draw(scratch, 1, cx, cy, rad);
    let area = 0;
    let clash = 0;
    for (let i = 0; i < scratch.length; i++) {
      if (!scratch[i]) continue;
      area++;
      if (labels[i] || (region && !region[i])) clash++;
    }
    // Neighbours may touch a little (shared borders, as organs do), not cover each other.
    if (area < 30 || clash > 0.05 * area) continue;
    id++;
    for (let i = 0; i < scratch.length; i++) if (scratch[i] && !labels[i] && (!region || region[i])) labels[i] = id;
  }
  return labels;
}

function drawAny(r: SeededRandom, w: number, h: number) {
  return (mask: Uint8Array, v: number, cx: number, cy: number, rad: number) => {
    if (r.next() < 0.5) fillMetaballs(mask, w, h, metaballObject(r, cx, cy, rad), v);
    else fillPolygon(mask, w, h, randomPolygon(r, cx, cy, rad, 5 + r.int(10), between(r, 0.05, 0.4), r.int(4), r.next() < 0.3 ? between(r, 1.5, 4) : 1), v);
  };
}

/** Per-object values around a base: each object brighter or darker (equally often) by a contrast drawn in [lo, hi]. */
function objectValues(r: SeededRandom, n: number, base: number, lo: number, hi: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => (i === 0 ? base : base + (r.next() < 0.5 ? -1 : 1) * between(r, lo, hi)));
}

function countOf(labels: Uint8Array): number {
  let m = 0;
  for (const v of labels) m = Math.max(m, v);
  return m;
}

export function evalScene(seed: number): EvalScene {
  const r = new SeededRandom(seed);
  const style = EVAL_STYLES[r.int(EVAL_STYLES.length)]!;
  const [w, h] = size(r);
  const n = w * h;
  const count = 2 + r.int(6);
  switch (style) {
    case "organs": {
      const body = new Uint8Array(n);
      fillMetaballs(body, w, h, [{ x: w / 2, y: h / 2, r: Math.min(w, h) * 0.42 }, { x: w * between(r, 0.35, 0.65), y: h * between(r, 0.4, 0.6), r: Math.min(w, h) * 0.3 }], 1);
      const labels = placeObjects(r, w, h, count, body, (m, v, cx, cy, rad) => fillMetaballs(m, w, h, metaballObject(r, cx, cy, rad), v));
      const tissue = between(r, 20, 70);
      const vals = objectValues(r, countOf(labels), tissue, 25, 160);
      const tex = gratings(r, w, h, 4, 6, 60);
      const texAmp = r.next() < 0.5 ? 0 : between(r, 5, 30);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = body[i] ? vals[labels[i]!]! + texAmp * tex[i]! : -1000;
      boxBlur3(f, w, h, r.int(3));
      const sigma = between(r, 5, 30);
      const data = new Int16Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.max(-1024, Math.min(3071, Math.round(f[i]! + sigma * gauss(r))));
      return { seed, style, image: { width: w, height: h, channels: 1, data }, labels, intensity: r.next() < 0.5 ? { mode: "window", level: 40, width: 400 } : { mode: "minmax" } };
    }
    case "mri": {
      const labels = placeObjects(r, w, h, count, undefined, drawAny(r, w, h));
      const base = between(r, 200, 600);
      const vals = objectValues(r, countOf(labels), base, 0.2 * base, 0.9 * base);
      const [a, b, c] = [gauss(r) * 0.3, gauss(r) * 0.3, gauss(r) * 0.2];
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = Math.max(5, vals[labels[i]!]!);
      boxBlur3(f, w, h, 1 + r.int(2));
      const sigma = base * between(r, 0.02, 0.1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const x = (i % w) / w - 0.5;
        const y = Math.floor(i / w) / h - 0.5;
        const bias = Math.max(0.3, 1 + a * x + b * y + c * (x * x + y * y));
        data[i] = Math.hypot(f[i]! * bias + sigma * gauss(r), sigma * gauss(r));
      }
      return { seed, style, image: { width: w, height: h, channels: 1, data }, labels, intensity: r.next() < 0.7 ? { mode: "minmax" } : { mode: "percentile", low: 1, high: 99 } };
    }
    case "cells": {
      const region = new Uint8Array(n);
      fillPolygon(region, w, h, randomPolygon(r, w / 2, h / 2, Math.min(w, h) * 0.45, 12, 0.15, 3, 1), 1);
      const cells = 4 + r.int(12);
      const seeds: Vec[] = Array.from({ length: cells }, () => [between(r, 0.1, 0.9) * w, between(r, 0.1, 0.9) * h]);
      const wall = between(r, 1.5, 4);
      // Cells stop `wall` px inside the region's edge, so a membrane also closes the outer cells.
      const inner = region.slice();
      for (let k = 0; k < Math.round(wall); k++) {
        const prev = inner.slice();
        for (let i = 0; i < n; i++) {
          const x = i % w;
          if (prev[i] && (x === 0 || !prev[i - 1] || x === w - 1 || !prev[i + 1] || i < w || !prev[i - w] || i >= n - w || !prev[i + w])) inner[i] = 0;
        }
      }
      const cellMap = voronoi(inner, w, h, seeds, wall);
      const membranes = r.next() < 0.4;
      const labels = new Uint8Array(n);
      const keep = Array.from({ length: cells + 1 }, (_, i) => i > 0 && r.next() < 0.7);
      const level = Array.from({ length: cells + 1 }, () => between(r, 300, 1500));
      const f = new Float32Array(n);
      const dim = between(r, 20, 80);
      for (let i = 0; i < n; i++) {
        const id = cellMap[i]!;
        if (id && keep[id]) labels[i] = id;
        if (membranes) f[i] = region[i] && !id ? level[1]! : dim;
        else f[i] = id ? level[id]! : region[i] ? dim * 2 : dim;
      }
      boxBlur3(f, w, h, 1);
      const data = new Uint16Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.max(0, Math.round(f[i]! + Math.sqrt(f[i]!) * gauss(r) * between(r, 1, 3)));
      return { seed, style, image: { width: w, height: h, channels: 1, data }, labels, intensity: { mode: "minmax" } };
    }
    case "histology": {
      const labels = placeObjects(r, w, h, count + 2, undefined, (m, v, cx, cy, rad) => {
        if (rad > 25 && r.next() < 0.5) {
          // A gland: the wall is the object, the lumen inside it is not.
          const outer = randomPolygon(r, cx, cy, rad, 10 + r.int(6), 0.12, 3, between(r, 1, 1.8));
          fillPolygon(m, w, h, outer, v);
          const inner = outer.map(([x, y]) => [cx + (x - cx) * 0.55, cy + (y - cy) * 0.55] as Vec);
          fillPolygon(m, w, h, inner, 0);
        } else fillPolygon(m, w, h, randomPolygon(r, cx, cy, Math.min(rad, 40), 8 + r.int(6), 0.2, 2, between(r, 1, 2)), v);
      });
      // Stain densities per pixel: hematoxylin (objects mostly), eosin (stroma); optical density -> RGB.
      const H = [0.65, 0.7, 0.29];
      const E = [0.07, 0.99, 0.11];
      const tex = gratings(r, w, h, 5, 4, 30);
      const k = countOf(labels);
      const objH = Array.from({ length: k + 1 }, () => between(r, 0.4, 1.2));
      const stromaE = between(r, 0.2, 0.6);
      const data = new Uint8Array(n * 3);
      const dens = new Float32Array(n);
      for (let i = 0; i < n; i++) dens[i] = labels[i] ? objH[labels[i]!]! : 0;
      boxBlur3(dens, w, h, 1);
      for (let i = 0; i < n; i++) {
        const e = stromaE * (1 + 0.3 * tex[i]!);
        for (let c = 0; c < 3; c++) {
          const od = dens[i]! * H[c]! + e * E[c]! + 0.02 * gauss(r);
          data[3 * i + c] = Math.max(0, Math.min(255, Math.round(250 * Math.exp(-od * 2.3))));
        }
      }
      return { seed, style, image: { width: w, height: h, channels: 3, data }, labels, intensity: { mode: "minmax" } };
    }
    case "ultrasound": {
      const labels = placeObjects(r, w, h, count, undefined, drawAny(r, w, h));
      const vals = objectValues(r, countOf(labels), 1, 0.5, 0.85).map((v, i) => (i === 0 ? 1 : v < 1 ? v : 1 + (v - 1) * 4));
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = vals[labels[i]!]!;
      boxBlur3(f, w, h, 1 + r.int(2));
      const data = new Uint8Array(n);
      const dyn = between(r, 30, 60);
      for (let i = 0; i < n; i++) {
        const speckle = Math.hypot(gauss(r), gauss(r)) / Math.SQRT2; // Rayleigh
        const db = 20 * Math.log10(Math.max(1e-3, f[i]! * speckle));
        data[i] = Math.max(0, Math.min(255, Math.round(((db + dyn) / (dyn + 15)) * 255)));
      }
      return { seed, style, image: { width: w, height: h, channels: 1, data }, labels, intensity: { mode: "minmax" } };
    }
    case "xray": {
      const labels = placeObjects(r, w, h, count, undefined, (m, v, cx, cy, rad) =>
        fillPolygon(m, w, h, randomPolygon(r, cx, cy, rad, 6 + r.int(8), between(r, 0.05, 0.25), 3, r.next() < 0.5 ? between(r, 2, 5) : 1), v),
      );
      const mu = Array.from({ length: countOf(labels) + 1 }, (_, i) => (i === 0 ? 0.3 : between(r, 0.15, 1.2)));
      const t = new Float32Array(n);
      for (let i = 0; i < n; i++) t[i] = mu[labels[i]!]!;
      boxBlur3(t, w, h, 1 + r.int(2));
      const invert = r.next() < 0.5;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const I = Math.exp(-t[i]! * 1.5) * (1 + 0.03 * gauss(r));
        data[i] = invert ? 1 - I : I;
      }
      return { seed, style, image: { width: w, height: h, channels: 1, data }, labels, intensity: r.next() < 0.5 ? { mode: "minmax" } : { mode: "percentile", low: 1, high: 99 } };
    }
  }
}
