/**
 * Anatomy + z -> one slice: the label map, the body mask, and the noiseless intensity with
 * partial-volume edges. Each pixel is sampled at 3x3 points in-plane, each at one of three
 * depths within the slice thickness, so an edge pixel (in-plane or where an organ starts
 * or ends across slices) mixes the tissues it covers, as a real voxel does.
 * The label is the structure at the pixel's centre.
 */
import type { Anatomy, Structure } from "./anatomy.js";
import { fractalNoise } from "./noise.js";
import { inside, insideInner, sectionAt, type Section } from "./shape.js";
import { TISSUE_INDEX, TISSUES, type TissueLook } from "./tissues.js";

export interface SliceGeometry {
  readonly width: number;
  readonly height: number;
  /** Pixel size in mm (x = columns, y = rows). */
  readonly spacingX: number;
  readonly spacingY: number;
  /** Where the image centre lies relative to the body centre, mm. */
  readonly centerX: number;
  readonly centerY: number;
  /** Canonical z (0 = bottom, 1 = top of the abdomen) of the slice centre and its thickness in the same units. */
  readonly z: number;
  readonly thickness: number;
}

export interface RenderedSlice {
  readonly labels: Uint8Array;
  readonly body: Uint8Array;
  /** Noiseless intensity incl. texture and partial volume, float32. */
  readonly intensity: Float32Array;
}

interface ActiveStructure {
  readonly s: Structure;
  readonly sec: Section;
  readonly within: Section | null;
  readonly tissue: number;
  readonly label: number;
  readonly inner: readonly { readonly tissue: number; readonly scale: number; readonly dx: number; readonly dy: number }[];
}

/** Structures present at z, topmost first, with their periodic slabs resolved. */
function activeAt(anatomy: Anatomy, z: number): { list: ActiveStructure[]; body: Section | null } {
  const sections = new Map<string, Section | null>();
  for (const s of anatomy.structures) sections.set(s.name, sectionAt(s.shape, z));
  const list: ActiveStructure[] = [];
  for (let i = anatomy.structures.length - 1; i >= 0; i--) {
    const s = anatomy.structures[i]!;
    const sec = sections.get(s.name);
    if (!sec) continue;
    let within: Section | null = null;
    if (s.within) {
      within = sections.get(s.within) ?? null;
      if (!within) continue;
    }
    let tissue = TISSUE_INDEX[s.tissue];
    let label = s.label;
    let inner = s.inner.map((r) => ({ tissue: TISSUE_INDEX[r.tissue], scale: r.scale, dx: r.dx, dy: r.dy }));
    if (s.periodic) {
      const mm = z * anatomy.lengthMm + s.periodic.offset;
      const phase = ((mm % s.periodic.period) + s.periodic.period) % s.periodic.period;
      if (phase < s.periodic.gap) {
        tissue = TISSUE_INDEX[s.periodic.tissue];
        inner = [];
        if (s.periodic.unlabeled) label = 0;
      }
    }
    list.push({ s, sec, within, tissue, label, inner });
  }
  return { list, body: sections.get("body") ?? null };
}

const AIR = TISSUE_INDEX.air;

/** Tissue and label at a point (mm), topmost structure first, packed as tissue * 256 + label. */
function sample(list: readonly ActiveStructure[], x: number, y: number): number {
  for (const a of list) {
    if (!inside(a.sec, x, y)) continue;
    if (a.within && !inside(a.within, x, y)) continue;
    let tissue = a.tissue;
    for (const r of a.inner) {
      if (insideInner(a.sec, x, y, r)) {
        tissue = r.tissue;
        break;
      }
    }
    return tissue * 256 + a.label;
  }
  return AIR * 256;
}

const SUB = [-1 / 3, 0, 1 / 3];
/** Depth offset (fraction of thickness) of in-plane subsample (i, j): a Latin square, centre at depth 0. */
const DEPTH = [0, -1 / 3, 1 / 3];

export function renderSlice(anatomy: Anatomy, g: SliceGeometry, looks: readonly TissueLook[], textureSeed: number): RenderedSlice {
  const { width, height } = g;
  const n = width * height;
  const labels = new Uint8Array(n);
  const body = new Uint8Array(n);
  const intensity = new Float32Array(n);
  const depths = DEPTH.map((d) => activeAt(anatomy, g.z + d * g.thickness).list);
  const bodySec = activeAt(anatomy, g.z).body;
  const xmm = (px: number) => (px - width / 2) * g.spacingX + g.centerX;
  const ymm = (py: number) => (py - height / 2) * g.spacingY + g.centerY;
  // Fast path: most pixels lie well inside one tissue. Probe the pixel's corners (shared
  // with the neighbours) and its centre at the three depths; only where they disagree,
  // take all nine subsamples.
  const corners = new Int32Array((width + 1) * (height + 1));
  for (let cy = 0; cy <= height; cy++) {
    for (let cx = 0; cx <= width; cx++) corners[cy * (width + 1) + cx] = sample(depths[0]!, xmm(cx), ymm(cy));
  }
  const counts = new Float64Array(TISSUES.length);
  const seen: number[] = [];
  const zMm = g.z * anatomy.lengthMm;
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      seen.length = 0;
      const x = xmm(px + 0.5);
      const y = ymm(py + 0.5);
      const cc = sample(depths[0]!, x, y);
      const c0 = py * (width + 1) + px;
      const uniform =
        corners[c0] === cc &&
        corners[c0 + 1] === cc &&
        corners[c0 + width + 1] === cc &&
        corners[c0 + width + 2] === cc &&
        sample(depths[1]!, x, y) === cc &&
        sample(depths[2]!, x, y) === cc;
      if (uniform) {
        seen.push(cc >> 8);
        counts[cc >> 8] = 1;
      } else {
        for (let j = 0; j < 3; j++) {
          for (let i = 0; i < 3; i++) {
            const d = (i + 2 * j) % 3;
            const hit = i === 1 && j === 1 ? cc : sample(depths[d]!, xmm(px + 0.5 + SUB[i]!), ymm(py + 0.5 + SUB[j]!));
            const t = hit >> 8;
            if (counts[t] === 0) seen.push(t);
            counts[t]! += 1 / 9;
          }
        }
      }
      let v = 0;
      for (const t of seen) {
        const look = looks[t]!;
        const cell = t === TISSUE_INDEX.lung || t === TISSUE_INDEX.visceral ? 7 : 14;
        const tex = look.texture === 0 ? 0 : look.texture * fractalNoise(x, y, zMm, cell, (textureSeed + t * 7919) | 0);
        v += counts[t]! * (look.value + tex);
        counts[t] = 0;
      }
      const idx = py * width + px;
      intensity[idx] = v;
      labels[idx] = cc & 255;
      body[idx] = bodySec && inside(bodySec, x, y) ? 1 : 0;
    }
  }
  return { labels, body, intensity };
}
