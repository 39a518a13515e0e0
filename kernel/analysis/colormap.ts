/**
 * Scalar -> colour maps for analysis pictures. Viridis is perceptually uniform and readable in
 * grey and by colour-blind viewers, so it is the default for heat maps; plotly knows it by the
 * same name, so a PNG and an interactive chart of the same data look alike.
 */

export type ColormapName = "viridis" | "gray";

type Rgb = readonly [number, number, number];

/** matplotlib's viridis at 0, 1/8, ..., 1 (its published hex stops), linearly interpolated. */
const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [253, 231, 37],
];

/** Colour of t in [0, 1] (values outside are clamped: callers choose the range on purpose). */
export function colormap(name: ColormapName, t: number): Rgb {
  const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  if (name === "gray") {
    const g = Math.round(u * 255);
    return [g, g, g];
  }
  if (name !== "viridis") throw new Error(`unknown colormap '${String(name)}'; use 'viridis' or 'gray'.`);
  const f = u * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(f));
  const w = f - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [
    Math.round(a[0] + (b[0] - a[0]) * w),
    Math.round(a[1] + (b[1] - a[1]) * w),
    Math.round(a[2] + (b[2] - a[2]) * w),
  ];
}

/** Plotly's name for the same map. */
export function plotlyColorscale(name: ColormapName): string {
  return name === "viridis" ? "Viridis" : "Greys";
}

/** Values -> interleaved RGB bytes, mapping [lo, hi] onto the map (a flat range maps to 0). */
export function applyColormap(values: ArrayLike<number>, lo: number, hi: number, name: ColormapName): Uint8Array {
  const out = new Uint8Array(values.length * 3);
  const span = hi - lo;
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = colormap(name, span > 0 ? (values[i]! - lo) / span : 0);
    out[3 * i] = r;
    out[3 * i + 1] = g;
    out[3 * i + 2] = b;
  }
  return out;
}
