/**
 * The notebook face of the embedding PCA, in two styles:
 *
 * - `style: "micro_sam"` (default): micro_sam's picture (`project_embeddings_for_visualization`,
 *   `compute_pca`): each embedding fitted on its own 64x64 tokens, padding included, the three
 *   components scaled together and truncated to uint8, cropped to `int(aspect * 64)` tokens
 *   (pca-image.ts `microSamPcaImage`).
 * - `style: "comparison"`: ours for comparing embeddings: the image tokens only, one basis fitted
 *   on all embeddings (`fit: "shared"`, default) and one scale per component shared by the panels,
 *   so equal colours mean equal features side by side (`fit: "each"`: a basis per embedding).
 *
 * Either style can be fitted inside a mask (`mask`: the body, chosen organs; one for all
 * embeddings or one each): only the inside tokens are fitted and scaled, the rest drawn dark.
 * Also: the explained variance, each component alone, and the tokens in PC space coloured by a
 * label map.
 */
import { fitPca, pcaOfEmbeddings, projectEmbedding, type PcaBasis, type PcaOptions, type TokenProjection } from "../analysis/pca.js";
import { componentImages, microSamPcaImage, OUTSIDE_COLOR, pcaRgbImages, type PcaImageOptions } from "../analysis/pca-image.js";
import { maskFor } from "../analysis/pca.js";
import { tokenLabels, tokenMask, upsampleTokens, type PixelMask } from "../analysis/tokens.js";
import { cosineSimilarityAt, similarityImage } from "../analysis/similarity.js";
import { applyColormap } from "../analysis/colormap.js";
import type { LegendEntry } from "./overlay.js";
import { drawMarkers } from "./overlay.js";
import type { ColormapName } from "../analysis/colormap.js";
import type { RgbImage8 } from "../io/image.js";
import type { Embedding } from "../sam/embedding.js";
import { explainedVarianceFigure, tokenScatterFigure } from "./figures.js";
import { ImageGrid } from "./figures-images.js";
import { DISPLAY, PlotlyChart, type MimeBundle } from "./plotly.js";

export type PcaStyle = "micro_sam" | "comparison";

export interface PcaViewOptions extends PcaOptions, PcaImageOptions {
  /** micro_sam's picture (default) or ours for comparisons (see the module comment). */
  readonly style?: PcaStyle;
  /**
   * "shared" (default): one basis fitted on all embeddings, so equal colours mean equal
   * features across panels. "each": a basis per embedding, for models whose channels mean
   * different things (colours then compare structure, not values; each panel is scaled alone).
   */
  readonly fit?: "shared" | "each";
  /** Panel captions, one per embedding (default: the model name, numbered when repeated). */
  readonly names?: readonly string[];
  readonly panelWidth?: number;
  readonly columns?: number;
}

function defaultNames(embeddings: readonly Embedding[]): string[] {
  const sameModel = embeddings.every((e) => e.modelName === embeddings[0]!.modelName);
  return embeddings.map((e, i) => (sameModel && embeddings.length > 1 ? `${e.modelName} #${i + 1}` : e.modelName));
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

export class PcaView {
  /** The shared basis, or with `fit: "each"` the first embedding's. */
  readonly basis: PcaBasis;
  /** One basis per embedding (all the same object when shared). */
  readonly bases: readonly PcaBasis[];
  readonly projections: readonly TokenProjection[];
  readonly names: readonly string[];

  /** Use `await pcaView(...)`, which fits the bases first. */
  constructor(
    readonly embeddings: readonly Embedding[],
    fitted: { readonly bases: readonly PcaBasis[]; readonly projections: readonly TokenProjection[] },
    readonly options: PcaViewOptions = {},
  ) {
    if (embeddings.length === 0) throw new Error("pcaView needs at least one embedding.");
    if (options.names && options.names.length !== embeddings.length) {
      throw new Error(`names has ${options.names.length} entries for ${embeddings.length} embeddings.`);
    }
    this.bases = fitted.bases;
    this.projections = fitted.projections;
    this.basis = this.bases[0]!;
    this.names = options.names ?? defaultNames(embeddings);
  }

  get style(): PcaStyle {
    return this.options.style ?? "micro_sam";
  }

  private get shared(): boolean {
    return this.style === "comparison" && (this.options.fit ?? "shared") === "shared";
  }

  rgbImages(): RgbImage8[] {
    if (this.style === "micro_sam") return this.projections.map((p) => microSamPcaImage(p).image);
    // Separate bases have no common scale: each panel is scaled on its own.
    return pcaRgbImages(this.projections, this.shared ? this.options : { ...this.options, range: "each" });
  }

  /** One line about the fit, shown as the grid's title. */
  describe(): string {
    const inside = this.options.mask ? " inside the mask" : "";
    if (this.style === "micro_sam") return `PCA of ${this.embeddings.length} embedding(s)${inside} as micro_sam draws it: a basis each over all 64x64 tokens, PC1-3 scaled together (explained variance in the captions)`;
    if (!this.shared) return `PCA of ${this.embeddings.length} embedding(s)${inside}, a basis each (explained variance of PC1-3 in the captions)`;
    const b = this.basis;
    const parts = b.explainedVarianceRatio.slice(0, 3).map((r, i) => `PC${i + 1} ${pct(r)}`);
    const sampled = b.fitTokens < b.availableTokens ? ` (fitted on ${b.fitTokens} of ${b.availableTokens} tokens)` : "";
    return `PCA of ${this.embeddings.length} embedding(s)${inside}, shared basis: ${parts.join(", ")} of the variance${sampled}`;
  }

  private caption(i: number): string {
    if (this.shared) return this.names[i]!;
    const r = this.bases[i]!.explainedVarianceRatio;
    return `${this.names[i]} (${pct(r.slice(0, 3).reduce((a, b) => a + b, 0))})`;
  }

  grid(): ImageGrid {
    const images = this.rgbImages();
    return new ImageGrid(
      images.map((image, i) => ({ image, caption: this.caption(i) })),
      { title: this.describe(), panelWidth: this.options.panelWidth, columns: this.options.columns },
    );
  }

  /** Component `index` (0-based) of every embedding, on one shared scale. */
  component(index: number, options: { colormap?: ColormapName } = {}): ImageGrid {
    const images = componentImages(this.projections, index, { ...this.options, ...(this.shared ? {} : { range: "each" as const }), ...options });
    const ratio = this.shared ? this.basis.explainedVarianceRatio[index] : undefined;
    return new ImageGrid(
      images.map((image, i) => ({ image, caption: this.names[i] })),
      {
        title: `PC${index + 1}${ratio === undefined ? "" : ` (${pct(ratio)} of the variance)`}`,
        panelWidth: this.options.panelWidth,
        columns: this.options.columns,
      },
    );
  }

  varianceChart(): PlotlyChart {
    const bases = this.shared ? [{ name: "shared basis", basis: this.basis }] : this.bases.map((basis, i) => ({ name: this.names[i]!, basis }));
    return new PlotlyChart(explainedVarianceFigure(bases));
  }

  /** Tokens of embedding `index` in PC space, coloured by the label map of that image. */
  scatter(
    labels: { readonly width: number; readonly height: number; readonly data: ArrayLike<number> },
    options: { index?: number; labelNames?: readonly string[]; components?: readonly [number, number]; mask?: PixelMask } = {},
  ): PlotlyChart {
    const i = options.index ?? 0;
    const p = this.projections[i];
    if (!p) throw new Error(`no embedding #${i}; there are ${this.projections.length}.`);
    const t = tokenLabels(labels, p.embedding, p.grid);
    // only the tokens inside the fit's mask and the scatter's own mask (-1 = left out)
    const shown = options.mask ? tokenMask(options.mask, p.embedding, p.grid) : undefined;
    t.forEach((_, k) => ((p.inside && !p.inside[k]) || (shown && !shown[k])) && (t[k] = -1));
    return new PlotlyChart(
      tokenScatterFigure(p, t, { labelNames: options.labelNames, components: options.components, title: `${this.names[i]}: tokens in PC space` }),
    );
  }

  [DISPLAY](): Promise<MimeBundle> {
    return this.grid()[DISPLAY]();
  }
}

/** PCA of embeddings, shown side by side on a shared basis (or a basis each). */
export async function pcaView(embeddings: Embedding | readonly Embedding[], options: PcaViewOptions = {}): Promise<PcaView> {
  const list = Array.isArray(embeddings) ? (embeddings as readonly Embedding[]) : [embeddings as Embedding];
  if (list.length === 0) throw new Error("pcaView needs at least one embedding.");
  if (options.names && options.names.length !== list.length) {
    throw new Error(`names has ${options.names.length} entries for ${list.length} embeddings.`);
  }
  const style = options.style ?? "micro_sam";
  if (style === "micro_sam") {
    for (const key of ["fit", "region", "range", "percentiles", "upsampling"] as const) {
      if (options[key] !== undefined) throw new Error(`'${key}' is an option of style "comparison"; micro_sam's picture fits each embedding over all 64x64 tokens. Pass style: "comparison" to use it.`);
    }
    const bases: PcaBasis[] = [];
    const projections: TokenProjection[] = [];
    for (const [i, e] of list.entries()) {
      const mask = maskFor(options.mask, i, list.length);
      const basis = await fitPca(e, { components: 3, region: "all", ...(options.maxFitTokens ? { maxFitTokens: options.maxFitTokens } : {}), ...(mask ? { mask } : {}) });
      bases.push(basis);
      projections.push(projectEmbedding(basis, e, mask));
    }
    return new PcaView(list, { bases, projections }, options);
  }
  if (style !== "comparison") throw new Error(`style must be 'micro_sam' or 'comparison', got '${String(style)}'.`);
  const fit = options.fit ?? "shared";
  if (fit === "shared") {
    const { basis, projections } = await pcaOfEmbeddings(list, { components: 3, ...options });
    return new PcaView(list, { bases: list.map(() => basis), projections }, options);
  }
  if (fit !== "each") throw new Error(`fit must be 'shared' or 'each', got '${String(fit)}'.`);
  const bases: PcaBasis[] = [];
  for (const [i, e] of list.entries()) {
    const mask = maskFor(options.mask, i, list.length);
    bases.push(await fitPca(e, { components: 3, ...options, mask }));
  }
  return new PcaView(list, { bases, projections: list.map((e, i) => projectEmbedding(bases[i]!, e, maskFor(options.mask, i, list.length))) }, options);
}

/** A stepped colour bar as legend entries: `steps` swatches from lo to hi, labelled with their values. */
export function colorbarLegend(colormap: ColormapName, lo: number, hi: number, steps = 5): LegendEntry[] {
  const values = Array.from({ length: steps }, (_, i) => lo + ((hi - lo) * i) / (steps - 1));
  const rgb = applyColormap(values, lo, hi, colormap);
  return values.map((v, i) => ({ name: (Math.abs(v) < 1e-9 ? 0 : v).toFixed(2), color: [rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!] as const }));
}

/**
 * "What looks like this spot?": the cosine similarity of every token to the token under pixel
 * (x, y), as a heat map at the image size (blended over `image` when given), the clicked pixel
 * marked, with a colour bar. With `mask`, only the tokens inside it are coloured (and give the
 * "data" range); the rest are drawn dark. For the token grid itself with hover values, use
 * `similarityFigure()` in a PlotlyChart.
 */
export function similarityView(
  embedding: Embedding,
  x: number,
  y: number,
  options: { image?: RgbImage8; alpha?: number; colormap?: ColormapName; range?: "full" | "data"; caption?: string; mask?: PixelMask } = {},
): ImageGrid {
  const map = cosineSimilarityAt(embedding, x, y);
  const inside = options.mask ? tokenMask(options.mask, embedding, map.grid) : undefined;
  const colormap = options.colormap ?? "viridis";
  let lo = -1;
  let hi = 1;
  if ((options.range ?? "full") === "data") {
    lo = Infinity;
    hi = -Infinity;
    map.values.forEach((v, t) => {
      if (inside && !inside[t]) return;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    });
  }
  let heat = similarityImage(map, { colormap, limits: [lo, hi], over: options.image, alpha: options.alpha });
  if (inside) {
    const up = upsampleTokens(Float32Array.from(inside), map.grid, embedding, "nearest").data;
    const data = Uint8Array.from(heat.data);
    for (let p = 0; p < up.length; p++) if (!up[p]) data.set(OUTSIDE_COLOR, 3 * p);
    heat = { ...heat, data };
  }
  const picture = drawMarkers(heat, [{ x, y, positive: true, size: 6 }]);
  const where = inside ? ", inside the mask" : "";
  const range = (options.range ?? "full") === "full" ? "colour scale -1 .. +1" : `colour scale: min .. max of the map${where}`;
  return new ImageGrid([{ image: picture, caption: options.caption ?? `cosine similarity to the token at (${x}, ${y})` }], {
    title: `${embedding.modelName}: ${range}`,
    panelWidth: Math.min(512, picture.width),
    legend: colorbarLegend(colormap, lo, hi),
  });
}
