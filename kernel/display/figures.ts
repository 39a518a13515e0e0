/**
 * Plotly figure builders for the analyses: the paper-style Dice-per-round curves, explained
 * variance, tokens in PC space, similarity heat maps. Each returns plain figure JSON
 * (`PlotlyFigure`); wrap it in `PlotlyChart` to display it. Arrays are plain arrays so the JSON
 * is what plotly.js documents.
 */
import type { SummaryRow } from "../evaluation/protocol-table.js";
import type { PcaBasis, TokenProjection } from "../analysis/pca.js";
import type { SimilarityMap } from "../analysis/similarity.js";
import { plotlyColorscale, type ColormapName } from "../analysis/colormap.js";
import { labelColor } from "./overlay.js";
import type { PlotlyFigure, PlotlyTrace } from "./plotly-figure.js";
import { PLOTLY_COLORS } from "./plotly-svg.js";

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

function rgbHex([r, g, b]: readonly [number, number, number]): string {
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}

/** The colour a label has in overlays, as plotly wants it; background (0) is grey. */
export function labelHex(label: number): string {
  return label === 0 ? "#9a9a9a" : rgbHex(labelColor(label));
}

export interface ProtocolFigureOptions {
  readonly metric?: "dice" | "iou";
  readonly title?: string;
}

/**
 * Dice (or IoU) per round, one panel per start mode (point, box) side by side, one line per
 * model in the same colour in both panels -- the layout of the MedicoSAM paper's 2D figure.
 * Round 0 is the start prompt; round k is after k corrections.
 */
export function protocolFigure(rows: readonly SummaryRow[], options: ProtocolFigureOptions = {}): PlotlyFigure {
  if (rows.length === 0) throw new Error("protocolFigure: no summary rows; run the protocol and summarize() first.");
  const metric = options.metric ?? "dice";
  if (metric !== "dice" && metric !== "iou") throw new Error(`metric must be 'dice' or 'iou', got '${String(metric)}'.`);
  const starts = ["point", "box"].filter((s) => rows.some((r) => r.start === s));
  for (const r of rows) if (!starts.includes(r.start)) starts.push(r.start);
  const models = [...new Set(rows.map((r) => r.model))];
  const maxRound = Math.max(...rows.map((r) => r.round));
  const gap = 0.08;
  const panelWidth = (1 - gap * (starts.length - 1)) / starts.length;
  const data: PlotlyTrace[] = [];
  const layout: Record<string, unknown> = {
    title: { text: options.title ?? `${metric === "dice" ? "Dice" : "IoU"} per correction round` },
    width: Math.max(520, 380 * starts.length + 160),
    height: 420,
    showlegend: true,
    legend: { title: { text: "model" } },
    annotations: [] as unknown[],
  };
  starts.forEach((start, s) => {
    const axis = s === 0 ? "" : String(s + 1);
    const x0 = s * (panelWidth + gap);
    layout[`xaxis${axis}`] = {
      domain: [x0, x0 + panelWidth],
      anchor: `y${axis}`,
      title: { text: "correction round" },
      tickvals: Array.from({ length: maxRound + 1 }, (_, i) => i),
      ticktext: Array.from({ length: maxRound + 1 }, (_, i) => (i === 0 ? "start" : String(i))),
      range: [-0.3, maxRound + 0.3],
    };
    layout[`yaxis${axis}`] = {
      anchor: `x${axis}`,
      range: [0, 1],
      title: { text: s === 0 ? (metric === "dice" ? "Dice" : "IoU") : "" },
      ...(s > 0 ? { showticklabels: true } : {}),
    };
    (layout.annotations as unknown[]).push({
      text: `${start} start`,
      xref: "paper",
      yref: "paper",
      x: x0 + panelWidth / 2,
      y: 1,
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
    });
    models.forEach((model, m) => {
      const pts = rows.filter((r) => r.model === model && r.start === start).sort((a, b) => a.round - b.round);
      if (pts.length === 0) return;
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: model,
        legendgroup: model,
        showlegend: s === 0,
        x: pts.map((r) => r.round),
        y: pts.map((r) => round4(r[metric])),
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
        line: { color: PLOTLY_COLORS[m % PLOTLY_COLORS.length] },
        marker: { color: PLOTLY_COLORS[m % PLOTLY_COLORS.length], size: 7 },
      });
    });
  });
  return { data, layout };
}

/** Explained variance ratio per component, grouped by the named bases (models or stacks). */
export function explainedVarianceFigure(bases: readonly { name: string; basis: PcaBasis }[], title = "Explained variance per component"): PlotlyFigure {
  if (bases.length === 0) throw new Error("explainedVarianceFigure: no PCA bases given.");
  const data: PlotlyTrace[] = bases.map(({ name, basis }, i) => ({
    type: "bar",
    name,
    x: Array.from({ length: basis.componentCount }, (_, k) => `PC${k + 1}`),
    y: basis.explainedVarianceRatio.map((r) => round4(r * 100)),
    marker: { color: PLOTLY_COLORS[i % PLOTLY_COLORS.length] },
  }));
  return {
    data,
    layout: {
      title: { text: title },
      barmode: "group",
      yaxis: { title: { text: "% of total variance" }, rangemode: "tozero" },
      xaxis: { title: { text: "principal component" }, type: "category" },
      showlegend: bases.length > 1,
    },
  };
}

export interface TokenScatterOptions {
  /** Which two components to plot (default [0, 1] = PC1 vs PC2). */
  readonly components?: readonly [number, number];
  /** Display names of label ids (index = label), e.g. ["background", "liver", ...]. */
  readonly labelNames?: readonly string[];
  readonly title?: string;
}

/** Tokens as points in PC space, coloured by the label they mostly cover (see tokenLabels()). */
export function tokenScatterFigure(projection: TokenProjection, labels: Int32Array, options: TokenScatterOptions = {}): PlotlyFigure {
  const cells = projection.grid.rows * projection.grid.cols;
  if (labels.length !== cells) {
    throw new Error(`tokenScatterFigure: ${labels.length} token labels for ${cells} tokens; compute them with tokenLabels() on the same grid.`);
  }
  const [a, b] = options.components ?? [0, 1];
  for (const c of [a, b]) {
    if (!(Number.isInteger(c) && c >= 0 && c < projection.componentCount)) {
      throw new Error(`component ${c} does not exist; the projection has ${projection.componentCount}.`);
    }
  }
  // label -1 marks tokens left out (outside a mask)
  const ids = [...new Set(labels)].filter((id) => id >= 0).sort((x, y) => x - y);
  const data: PlotlyTrace[] = ids.map((id) => {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let t = 0; t < cells; t++) {
      if (labels[t] !== id) continue;
      xs.push(round4(projection.values[a * cells + t]!));
      ys.push(round4(projection.values[b * cells + t]!));
    }
    return {
      type: "scatter",
      mode: "markers",
      name: options.labelNames?.[id] ?? (id === 0 ? "background" : `label ${id}`),
      x: xs,
      y: ys,
      marker: { color: labelHex(id), size: 4, opacity: id === 0 ? 0.5 : 0.85 },
    };
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? `Tokens in PC space (${cells} tokens)` },
      xaxis: { title: { text: `PC${a + 1}` }, zeroline: false },
      yaxis: { title: { text: `PC${b + 1}` }, zeroline: false },
      width: 640,
      height: 520,
    },
  };
}

/** The similarity map on the token grid, with the reference token marked. */
export function similarityFigure(map: SimilarityMap, options: { colormap?: ColormapName; title?: string } = {}): PlotlyFigure {
  const { rows, cols } = map.grid;
  const z: number[][] = [];
  for (let r = 0; r < rows; r++) z.push(Array.from(map.values.subarray(r * cols, (r + 1) * cols), round4));
  const data: PlotlyTrace[] = [
    {
      type: "heatmap",
      z,
      zmin: -1,
      zmax: 1,
      colorscale: plotlyColorscale(options.colormap ?? "viridis"),
      colorbar: { title: { text: "cosine" } },
      hovertemplate: "row %{y}, col %{x}: %{z}<extra></extra>",
    },
  ];
  if (map.token) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "reference token",
      x: [map.token.col],
      y: [map.token.row],
      marker: { color: "#ff2020", size: 10, symbol: "x" },
      showlegend: false,
    });
  }
  const side = 520;
  return {
    data,
    layout: {
      title: { text: options.title ?? "Cosine similarity to the reference token" },
      width: Math.round(side * Math.min(1, cols / rows)) + 140,
      height: Math.round(side * Math.min(1, rows / cols)) + 90,
      xaxis: { title: { text: "token column" }, constrain: "domain" },
      yaxis: { title: { text: "token row" }, autorange: "reversed", scaleanchor: "x" },
    },
  };
}
