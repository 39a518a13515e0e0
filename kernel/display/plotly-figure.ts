/**
 * The plotly figure JSON we build: plain data, the same object plotly.js's `newPlot(el, data,
 * layout, config)` takes, so a user can tweak a figure with the plotly reference at hand.
 */

export type PlotlyTrace = { readonly type: string } & Record<string, unknown>;

export interface PlotlyFigure {
  readonly data: readonly PlotlyTrace[];
  readonly layout?: Record<string, unknown>;
  readonly config?: Record<string, unknown>;
}

/** Default size of a chart, in CSS pixels (plotly's own default is 700 x 450). */
export const DEFAULT_WIDTH = 700;
export const DEFAULT_HEIGHT = 450;

export function figureSize(fig: PlotlyFigure): { width: number; height: number } {
  const l = fig.layout ?? {};
  const w = typeof l.width === "number" && l.width > 0 ? l.width : DEFAULT_WIDTH;
  const h = typeof l.height === "number" && l.height > 0 ? l.height : DEFAULT_HEIGHT;
  return { width: w, height: h };
}

/** The figure's title text, whether given as a string or as {text}. */
export function figureTitle(fig: PlotlyFigure): string {
  const t = fig.layout?.title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") return (t as { text: string }).text;
  return "";
}

/** JSON.stringify replacer: typed arrays become plain arrays (not {"0": ...} objects). */
export function typedArraysAsArrays(_key: string, value: unknown): unknown {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value;
}
