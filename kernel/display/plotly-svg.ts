/**
 * A static SVG picture of a plotly figure, rendered here in Node without a browser, so exported
 * notebooks and GitHub show a chart even where plotly.js never runs.
 *
 * It draws the subset our figure builders use -- scatter (lines, markers, both), bars, heat maps
 * (embedded as a PNG) and image traces -- on linear or category axes, with subplots laid out by
 * axis `domain`s, a legend, a title and paper-referenced annotations (subplot titles). It is a
 * faithful picture of the data, not a pixel copy of plotly's styling. A trace type it cannot draw
 * is named in a note on the picture instead of silently disappearing.
 */
import { colormap } from "../analysis/colormap.js";
import { encodeRgbPngSync } from "./png.js";
import { figureSize, figureTitle, type PlotlyFigure, type PlotlyTrace } from "./plotly-figure.js";

/** plotly.js's default colour sequence. */
export const PLOTLY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const FONT = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`;

type Obj = Record<string, unknown>;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** plotly text may carry <br> and simple tags: keep line breaks, drop other tags. */
function plain(s: unknown): string {
  return typeof s === "string" ? s.replace(/<br\s*\/?>/gi, " ").replace(/<[^>]+>/g, "") : s === undefined || s === null ? "" : String(s);
}

function titleText(t: unknown): string {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && "text" in t) return plain((t as Obj).text);
  return "";
}

const num = (v: unknown, d: number): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();

interface Axis {
  readonly key: string; // "x", "x2", "y", ...
  readonly layout: Obj;
  readonly category: boolean;
  readonly categories: string[];
  /** Larger values drawn lower/left-er: `autorange: "reversed"`, or implied by an image trace. */
  reversed: boolean;
  lo: number;
  hi: number;
  /** Pixel span: [start, end] where start maps lo. */
  p0: number;
  p1: number;
}

function axisLayoutKey(ref: string): string {
  const m = /^([xy])(\d*)$/.exec(ref);
  if (!m) throw new Error(`axis reference '${ref}' is not of the form x, x2, y, y3, ...`);
  return `${m[1]}axis${m[2] === "1" ? "" : m[2]}`;
}

function arr(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return [];
}

/** Width/height of a PNG data URL (IHDR), for image traces. */
function pngSize(source: string): { width: number; height: number } | undefined {
  const m = /^data:image\/png;base64,(.*)$/.exec(source);
  if (!m) return undefined;
  const head = Buffer.from(m[1]!.slice(0, 44), "base64");
  if (head.length < 24) return undefined;
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

function parseColor(c: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(c);
  if (hex) {
    const v = parseInt(hex[1]!, 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  const rgb = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)/i.exec(c);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  return [128, 128, 128];
}

/** Colour of t in [0, 1] on a plotly colorscale (a name we know, or [[pos, colour], ...]). */
function scaleColor(scale: unknown, t: number): [number, number, number] {
  if (Array.isArray(scale) && scale.length >= 2) {
    const stops = scale as [number, string][];
    for (let i = 1; i < stops.length; i++) {
      const [p1, c1] = stops[i]!;
      const [p0, c0] = stops[i - 1]!;
      if (t <= p1 || i === stops.length - 1) {
        const w = p1 > p0 ? Math.min(1, Math.max(0, (t - p0) / (p1 - p0))) : 0;
        const a = parseColor(c0);
        const b = parseColor(c1);
        return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * w)) as [number, number, number];
      }
    }
  }
  const name = typeof scale === "string" ? scale.toLowerCase() : "viridis";
  if (name === "greys" || name === "gray") {
    const [g] = colormap("gray", t);
    return [g, g, g];
  }
  return [...colormap("viridis", t)] as [number, number, number];
}

/** "Nice" ticks (1, 2, 5 x 10^k) covering [lo, hi], about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function traceAxes(t: PlotlyTrace): [string, string] {
  return [typeof t.xaxis === "string" ? t.xaxis : "x", typeof t.yaxis === "string" ? t.yaxis : "y"];
}

function isDrawn(t: PlotlyTrace): boolean {
  return t.type === "scatter" || t.type === "bar" || t.type === "heatmap" || t.type === "image";
}

/** Data extents of a trace along x and y, in axis units (categories by index). */
function traceExtents(t: PlotlyTrace, xa: Axis, ya: Axis): { x: number[]; y: number[] } {
  const pos = (axis: Axis, v: unknown): number | undefined => {
    if (axis.category) {
      const s = String(v);
      let i = axis.categories.indexOf(s);
      if (i < 0) {
        axis.categories.push(s);
        i = axis.categories.length - 1;
      }
      return i;
    }
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
  };
  const xs: number[] = [];
  const ys: number[] = [];
  if (t.type === "scatter" || t.type === "bar") {
    const x = arr(t.x);
    const y = arr(t.y);
    const n = Math.max(x.length, y.length);
    for (let i = 0; i < n; i++) {
      const px = pos(xa, x.length ? x[i] : i);
      const py = pos(ya, y[i]);
      if (px === undefined || py === undefined) continue;
      xs.push(px);
      ys.push(py);
    }
    if (t.type === "bar") {
      ys.push(0);
      for (const v of [...xs]) xs.push(v - 0.5, v + 0.5);
    }
  } else if (t.type === "heatmap") {
    const z = arr(t.z).map(arr);
    const rows = z.length;
    const cols = rows ? z[0]!.length : 0;
    xs.push(num(t.x0, 0) - 0.5 * num(t.dx, 1), num(t.x0, 0) + (cols - 0.5) * num(t.dx, 1));
    ys.push(num(t.y0, 0) - 0.5 * num(t.dy, 1), num(t.y0, 0) + (rows - 0.5) * num(t.dy, 1));
  } else if (t.type === "image") {
    const size = typeof t.source === "string" ? pngSize(t.source) : undefined;
    if (size) {
      const dx = num(t.dx, 1);
      const dy = num(t.dy, 1);
      xs.push(num(t.x0, 0) - dx / 2, num(t.x0, 0) + (size.width - 0.5) * dx);
      ys.push(num(t.y0, 0) - dy / 2, num(t.y0, 0) + (size.height - 0.5) * dy);
    }
  }
  return { x: xs, y: ys };
}

export function renderFigureSvg(fig: PlotlyFigure): string {
  const layout = (fig.layout ?? {}) as Obj;
  const { width: W, height: H } = figureSize(fig);
  const traces = fig.data;
  const legendTraces = traces.filter(
    (t) => (t.type === "scatter" || t.type === "bar") && t.showlegend !== false && typeof t.name === "string" && t.name !== "",
  );
  const showLegend = layout.showlegend === false ? false : legendTraces.length > 1 || (layout.showlegend === true && legendTraces.length > 0);
  const hasColorbar = traces.some((t) => t.type === "heatmap" && t.showscale !== false);
  const title = plain(figureTitle(fig));
  const m = (layout.margin ?? {}) as Obj;
  const legendWidth = showLegend ? Math.min(220, 40 + 7 * Math.max(...legendTraces.map((t) => plain(t.name).length))) : 0;
  const L = num(m.l, 70);
  const R = num(m.r, 30) + legendWidth + (hasColorbar ? 70 : 0);
  const T = num(m.t, title ? 60 : 30);
  const B = num(m.b, 60);
  const plotW = Math.max(10, W - L - R);
  const plotH = Math.max(10, H - T - B);

  // Axes referenced by the traces (and x/y by default).
  const axes = new Map<string, Axis>();
  const axisFor = (ref: string): Axis => {
    let a = axes.get(ref);
    if (!a) {
      const al = (layout[axisLayoutKey(ref)] ?? {}) as Obj;
      const isX = ref.startsWith("x");
      const refsOnAxis = traces.filter((t) => traceAxes(t)[isX ? 0 : 1] === ref);
      const category =
        al.type === "category" ||
        (al.type !== "linear" && refsOnAxis.some((t) => arr(isX ? t.x : t.y).some((v) => typeof v === "string")));
      a = { key: ref, layout: al, category, categories: [], reversed: al.autorange === "reversed", lo: Infinity, hi: -Infinity, p0: 0, p1: 0 };
      axes.set(ref, a);
    }
    return a;
  };
  const notes: string[] = [];
  const skipped = new Map<string, number>();
  for (const t of traces) {
    if (!isDrawn(t)) {
      skipped.set(t.type, (skipped.get(t.type) ?? 0) + 1);
      continue;
    }
    const [xr, yr] = traceAxes(t);
    const xa = axisFor(xr);
    const ya = axisFor(yr);
    const ext = traceExtents(t, xa, ya);
    for (const v of ext.x) [xa.lo, xa.hi] = [Math.min(xa.lo, v), Math.max(xa.hi, v)];
    for (const v of ext.y) [ya.lo, ya.hi] = [Math.min(ya.lo, v), Math.max(ya.hi, v)];
    // plotly puts an image's first row on top unless the y axis says otherwise.
    if (t.type === "image" && ya.layout.autorange === undefined) ya.reversed = true;
  }
  for (const [type, count] of skipped) notes.push(`static picture omits ${count} ${type} trace(s)`);
  if (axes.size === 0) {
    axisFor("x");
    axisFor("y");
  }
  for (const a of axes.values()) {
    const isX = a.key.startsWith("x");
    const range = arr(a.layout.range);
    if (range.length === 2 && typeof range[0] === "number" && typeof range[1] === "number") {
      a.lo = range[0];
      a.hi = range[1];
    } else if (a.category) {
      a.lo = -0.5;
      a.hi = Math.max(0, a.categories.length - 0.5);
    } else if (!(a.hi >= a.lo)) {
      a.lo = 0;
      a.hi = 1;
    } else if (a.hi === a.lo) {
      a.lo -= 1;
      a.hi += 1;
    } else if (!traces.some((t) => (t.type === "heatmap" || t.type === "image") && traceAxes(t)[isX ? 0 : 1] === a.key)) {
      const pad = (a.hi - a.lo) * 0.05; // plotly pads scatter ranges a little
      a.lo -= pad;
      a.hi += pad;
    }
    const domain = arr(a.layout.domain);
    const d0 = num(domain[0], 0);
    const d1 = num(domain[1], 1);
    if (isX) {
      a.p0 = L + d0 * plotW;
      a.p1 = L + d1 * plotW;
    } else {
      a.p0 = T + plotH - d0 * plotH;
      a.p1 = T + plotH - d1 * plotH;
    }
    if (a.reversed) [a.p0, a.p1] = [a.p1, a.p0];
  }
  const px = (a: Axis, v: number) => a.p0 + ((v - a.lo) / (a.hi - a.lo)) * (a.p1 - a.p0);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  );
  if (title) out.push(`<text x="${W / 2}" y="${Math.min(32, T / 2 + 6)}" text-anchor="middle" font-size="17" ${FONT} fill="#222">${esc(title)}</text>`);

  // Subplots: one per (x, y) axis pair in use.
  const pairs = new Map<string, [Axis, Axis]>();
  for (const t of traces.filter(isDrawn)) {
    const [xr, yr] = traceAxes(t);
    pairs.set(`${xr}${yr}`, [axes.get(xr)!, axes.get(yr)!]);
  }
  if (pairs.size === 0) pairs.set("xy", [axes.get("x")!, axes.get("y")!]);
  let clipId = 0;
  const clipOf = new Map<string, string>();
  for (const [key, [xa, ya]] of pairs) {
    const x0 = Math.min(xa.p0, xa.p1);
    const x1 = Math.max(xa.p0, xa.p1);
    const y0 = Math.min(ya.p0, ya.p1);
    const y1 = Math.max(ya.p0, ya.p1);
    const id = `clip${clipId++}`;
    clipOf.set(key, id);
    out.push(`<clipPath id="${id}"><rect x="${fmt(x0)}" y="${fmt(y0)}" width="${fmt(x1 - x0)}" height="${fmt(y1 - y0)}"/></clipPath>`);
    out.push(`<rect x="${fmt(x0)}" y="${fmt(y0)}" width="${fmt(x1 - x0)}" height="${fmt(y1 - y0)}" fill="#f7f7fa" stroke="#ccc"/>`);
    for (const a of [xa, ya]) {
      const isX = a === xa;
      const tv = arr(a.layout.tickvals);
      const tt = arr(a.layout.ticktext);
      let ticks: { v: number; label: string }[];
      if (tv.length) ticks = tv.map((v, i) => ({ v: Number(v), label: plain(tt[i] ?? v) }));
      else if (a.category) {
        const every = Math.max(1, Math.ceil(a.categories.length / 12));
        ticks = a.categories.map((c, i) => ({ v: i, label: c })).filter((_, i) => i % every === 0);
      } else {
        ticks = niceTicks(Math.min(a.lo, a.hi), Math.max(a.lo, a.hi)).map((v) => ({ v, label: String(Number(v.toPrecision(6))) }));
      }
      if (a.layout.showticklabels === false) ticks = [];
      for (const { v, label } of ticks) {
        const p = px(a, v);
        if (isX) {
          out.push(`<line x1="${fmt(p)}" x2="${fmt(p)}" y1="${fmt(y0)}" y2="${fmt(y1)}" stroke="#e2e2e8"/>`);
          out.push(`<text x="${fmt(p)}" y="${fmt(y1 + 16)}" text-anchor="middle" font-size="11" ${FONT} fill="#444">${esc(label)}</text>`);
        } else {
          out.push(`<line x1="${fmt(x0)}" x2="${fmt(x1)}" y1="${fmt(p)}" y2="${fmt(p)}" stroke="#e2e2e8"/>`);
          out.push(`<text x="${fmt(x0 - 6)}" y="${fmt(p + 4)}" text-anchor="end" font-size="11" ${FONT} fill="#444">${esc(label)}</text>`);
        }
      }
      const at = titleText(a.layout.title);
      if (at) {
        if (isX) out.push(`<text x="${fmt((x0 + x1) / 2)}" y="${fmt(y1 + 40)}" text-anchor="middle" font-size="13" ${FONT} fill="#222">${esc(at)}</text>`);
        else {
          const cx = x0 - 48;
          const cy = (y0 + y1) / 2;
          out.push(`<text x="${fmt(cx)}" y="${fmt(cy)}" transform="rotate(-90 ${fmt(cx)} ${fmt(cy)})" text-anchor="middle" font-size="13" ${FONT} fill="#222">${esc(at)}</text>`);
        }
      }
    }
  }

  // Traces.
  const barTraces = traces.filter((t) => t.type === "bar");
  let colorIndex = 0;
  const traceColor = new Map<PlotlyTrace, string>();
  for (const t of traces) {
    if (t.type !== "scatter" && t.type !== "bar") continue;
    const line = (t.line ?? {}) as Obj;
    const marker = (t.marker ?? {}) as Obj;
    const c = typeof line.color === "string" ? line.color : typeof marker.color === "string" ? marker.color : PLOTLY_COLORS[colorIndex % PLOTLY_COLORS.length]!;
    colorIndex++;
    traceColor.set(t, c);
  }
  let colorbarIndex = 0;
  for (const t of traces) {
    if (!isDrawn(t)) continue;
    const [xr, yr] = traceAxes(t);
    const xa = axes.get(xr)!;
    const ya = axes.get(yr)!;
    const clip = clipOf.get(`${xr}${yr}`)!;
    const g: string[] = [];
    if (t.type === "scatter") {
      const x = arr(t.x);
      const y = arr(t.y);
      const mode = typeof t.mode === "string" ? t.mode : x.length > 20 ? "lines" : "lines+markers";
      const color = traceColor.get(t)!;
      const marker = (t.marker ?? {}) as Obj;
      const line = (t.line ?? {}) as Obj;
      const n = Math.max(x.length, y.length);
      const cat = (axis: Axis, v: unknown) => (axis.category ? axis.categories.indexOf(String(v)) : typeof v === "number" ? v : NaN);
      const pts: ([number, number] | undefined)[] = [];
      for (let i = 0; i < n; i++) {
        const vx = cat(xa, x.length ? x[i] : i);
        const vy = cat(ya, y[i]);
        const known = Number.isFinite(vx) && Number.isFinite(vy) && !(xa.category && vx < 0) && !(ya.category && vy < 0);
        pts.push(known ? [px(xa, vx), px(ya, vy)] : undefined);
      }
      if (mode.includes("lines")) {
        const dash = line.dash === "dash" ? ` stroke-dasharray="6 4"` : line.dash === "dot" ? ` stroke-dasharray="2 3"` : "";
        let run: string[] = [];
        const flush = () => {
          if (run.length > 1) g.push(`<polyline points="${run.join(" ")}" fill="none" stroke="${esc(color)}" stroke-width="${num(line.width, 2)}"${dash}/>`);
          run = [];
        };
        for (const p of pts) {
          if (p) run.push(`${fmt(p[0])},${fmt(p[1])}`);
          else flush();
        }
        flush();
      }
      if (mode.includes("markers")) {
        const size = num(marker.size, 6);
        const colors = arr(marker.color);
        const opacity = num(marker.opacity, 1);
        pts.forEach((p, i) => {
          if (!p) return;
          const c = typeof colors[i] === "string" ? (colors[i] as string) : color;
          g.push(`<circle cx="${fmt(p[0])}" cy="${fmt(p[1])}" r="${fmt(size / 2)}" fill="${esc(c)}"${opacity < 1 ? ` fill-opacity="${opacity}"` : ""}/>`);
        });
      }
    } else if (t.type === "bar") {
      const x = arr(t.x);
      const y = arr(t.y);
      const color = traceColor.get(t)!;
      const k = barTraces.filter((b) => traceAxes(b)[0] === xr && traceAxes(b)[1] === yr);
      const slot = k.indexOf(t);
      const width = 0.8 / k.length;
      for (let i = 0; i < y.length; i++) {
        const vx = xa.category ? xa.categories.indexOf(String(x.length ? x[i] : i)) : Number(x.length ? x[i] : i);
        const vy = Number(y[i]);
        if (!Number.isFinite(vx) || !Number.isFinite(vy)) continue;
        const left = px(xa, vx - 0.4 + slot * width);
        const right = px(xa, vx - 0.4 + (slot + 1) * width);
        const top = px(ya, Math.max(vy, 0));
        const bottom = px(ya, Math.min(vy, 0));
        g.push(`<rect x="${fmt(Math.min(left, right))}" y="${fmt(Math.min(top, bottom))}" width="${fmt(Math.abs(right - left))}" height="${fmt(Math.abs(bottom - top))}" fill="${esc(color)}"/>`);
      }
    } else if (t.type === "heatmap") {
      const z = arr(t.z).map(arr);
      const rows = z.length;
      const cols = rows ? z[0]!.length : 0;
      if (rows && cols) {
        let zmin = num(t.zmin, Infinity);
        let zmax = num(t.zmax, -Infinity);
        if (!Number.isFinite(zmin) || !Number.isFinite(zmax)) {
          for (const r of z) for (const v of r) if (typeof v === "number" && Number.isFinite(v)) [zmin, zmax] = [Math.min(zmin, v), Math.max(zmax, v)];
        }
        // Row 0 of z is drawn at y0 (the bottom unless the axis is reversed), as plotly does:
        // the PNG's first row is the top, so pick the z row that ends up on top.
        const yReversed = ya.p0 < ya.p1;
        const xReversed = xa.p0 > xa.p1;
        const data = new Uint8Array(rows * cols * 3);
        for (let r = 0; r < rows; r++) {
          const zr = z[yReversed ? r : rows - 1 - r]!;
          for (let c = 0; c < cols; c++) {
            const v = zr[xReversed ? cols - 1 - c : c];
            const rgb = typeof v === "number" && Number.isFinite(v) ? scaleColor(t.colorscale, zmax > zmin ? (v - zmin) / (zmax - zmin) : 0) : [255, 255, 255];
            data.set(rgb, (r * cols + c) * 3);
          }
        }
        const png = encodeRgbPngSync({ width: cols, height: rows, data });
        const xs = [num(t.x0, 0) - 0.5 * num(t.dx, 1), num(t.x0, 0) + (cols - 0.5) * num(t.dx, 1)].map((v) => px(xa, v));
        const ys = [num(t.y0, 0) - 0.5 * num(t.dy, 1), num(t.y0, 0) + (rows - 0.5) * num(t.dy, 1)].map((v) => px(ya, v));
        g.push(
          `<image x="${fmt(Math.min(...xs))}" y="${fmt(Math.min(...ys))}" width="${fmt(Math.abs(xs[1]! - xs[0]!))}" height="${fmt(Math.abs(ys[1]! - ys[0]!))}" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="data:image/png;base64,${png.toString("base64")}"/>`,
        );
        if (t.showscale !== false) {
          const bx = W - R + legendWidth + 20 + colorbarIndex * 70;
          colorbarIndex++;
          const steps = 32;
          const by0 = T;
          const bh = plotH;
          for (let s = 0; s < steps; s++) {
            const [r, gg, b] = scaleColor(t.colorscale, 1 - (s + 0.5) / steps);
            out.push(`<rect x="${bx}" y="${fmt(by0 + (s * bh) / steps)}" width="14" height="${fmt(bh / steps + 0.5)}" fill="rgb(${r},${gg},${b})"/>`);
          }
          out.push(`<text x="${bx + 18}" y="${fmt(by0 + 10)}" font-size="11" ${FONT} fill="#444">${esc(String(Number(zmax.toPrecision(3))))}</text>`);
          out.push(`<text x="${bx + 18}" y="${fmt(by0 + bh)}" font-size="11" ${FONT} fill="#444">${esc(String(Number(zmin.toPrecision(3))))}</text>`);
        }
      }
    } else if (t.type === "image" && typeof t.source === "string") {
      const size = pngSize(t.source);
      if (size) {
        const dx = num(t.dx, 1);
        const dy = num(t.dy, 1);
        const xs = [num(t.x0, 0) - dx / 2, num(t.x0, 0) + (size.width - 0.5) * dx].map((v) => px(xa, v));
        const ys = [num(t.y0, 0) - dy / 2, num(t.y0, 0) + (size.height - 0.5) * dy].map((v) => px(ya, v));
        g.push(
          `<image x="${fmt(Math.min(...xs))}" y="${fmt(Math.min(...ys))}" width="${fmt(Math.abs(xs[1]! - xs[0]!))}" height="${fmt(Math.abs(ys[1]! - ys[0]!))}" preserveAspectRatio="none" xlink:href="${esc(t.source)}"/>`,
        );
      } else {
        notes.push("static picture omits an image trace whose source is not a PNG data URL");
      }
    }
    out.push(`<g clip-path="url(#${clip})">${g.join("")}</g>`);
  }

  // Annotations in paper coordinates (subplot titles).
  for (const a of arr(layout.annotations) as Obj[]) {
    if (!a || typeof a !== "object" || a.xref !== "paper" || a.yref !== "paper") continue;
    const x = L + num(a.x, 0.5) * plotW;
    const y = T + plotH - num(a.y, 1) * plotH;
    const anchor = a.xanchor === "left" ? "start" : a.xanchor === "right" ? "end" : "middle";
    const dy = a.yanchor === "bottom" ? -6 : a.yanchor === "top" ? 14 : 4;
    out.push(`<text x="${fmt(x)}" y="${fmt(y + dy)}" text-anchor="${anchor}" font-size="13" ${FONT} fill="#222">${esc(plain(a.text))}</text>`);
  }

  if (showLegend) {
    const lx = W - R + 14;
    let ly = T + 6;
    for (const t of legendTraces) {
      const color = traceColor.get(t) ?? "#444";
      const mode = typeof t.mode === "string" ? t.mode : "lines+markers";
      if (t.type === "bar") out.push(`<rect x="${lx}" y="${ly - 6}" width="20" height="10" fill="${esc(color)}"/>`);
      else {
        if (mode.includes("lines")) out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${esc(color)}" stroke-width="2"/>`);
        if (mode.includes("markers")) out.push(`<circle cx="${lx + 10}" cy="${ly}" r="3.5" fill="${esc(color)}"/>`);
      }
      out.push(`<text x="${lx + 26}" y="${ly + 4}" font-size="12" ${FONT} fill="#222">${esc(plain(t.name))}</text>`);
      ly += 20;
    }
  }
  notes.forEach((n, i) => out.push(`<text x="6" y="${H - 6 - 14 * i}" font-size="10" ${FONT} fill="#a00">${esc(n)}</text>`));
  out.push("</svg>");
  return out.join("\n");
}
