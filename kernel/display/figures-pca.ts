/**
 * The notebook face of the embedding PCA: fit once on the given embeddings (several models, or
 * slices), then show them side by side on that shared basis, with the explained variance, each
 * component alone, and the tokens in PC space coloured by a label map.
 */
import { pcaOfEmbeddings, type PcaBasis, type PcaOptions, type TokenProjection } from "../analysis/pca.js";
import { componentImages, pcaRgbImages, type PcaImageOptions } from "../analysis/pca-image.js";
import { tokenLabels } from "../analysis/tokens.js";
import type { ColormapName } from "../analysis/colormap.js";
import type { RgbImage8 } from "../io/image.js";
import type { Embedding } from "../sam/embedding.js";
import { explainedVarianceFigure, tokenScatterFigure } from "./figures.js";
import { ImageGrid } from "./figures-images.js";
import { DISPLAY, PlotlyChart, type MimeBundle } from "./plotly.js";

export interface PcaViewOptions extends PcaOptions, PcaImageOptions {
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
  readonly basis: PcaBasis;
  readonly projections: readonly TokenProjection[];
  readonly names: readonly string[];

  constructor(
    readonly embeddings: readonly Embedding[],
    readonly options: PcaViewOptions = {},
  ) {
    if (embeddings.length === 0) throw new Error("pcaView needs at least one embedding.");
    if (options.names && options.names.length !== embeddings.length) {
      throw new Error(`names has ${options.names.length} entries for ${embeddings.length} embeddings.`);
    }
    const { basis, projections } = pcaOfEmbeddings(embeddings, { components: 3, ...options });
    this.basis = basis;
    this.projections = projections;
    this.names = options.names ?? defaultNames(embeddings);
  }

  /** The first three components as RGB, one picture per embedding at its image size. */
  rgbImages(): RgbImage8[] {
    return pcaRgbImages(this.projections, this.options);
  }

  /** One line about the fit, shown as the grid's title. */
  describe(): string {
    const b = this.basis;
    const parts = b.explainedVarianceRatio.slice(0, 3).map((r, i) => `PC${i + 1} ${pct(r)}`);
    const sampled = b.fitTokens < b.availableTokens ? ` (fitted on ${b.fitTokens} of ${b.availableTokens} tokens)` : "";
    return `PCA of ${this.embeddings.length} embedding(s), shared basis: ${parts.join(", ")} of the variance${sampled}`;
  }

  grid(): ImageGrid {
    const images = this.rgbImages();
    return new ImageGrid(
      images.map((image, i) => ({ image, caption: this.names[i] })),
      { title: this.describe(), panelWidth: this.options.panelWidth, columns: this.options.columns },
    );
  }

  /** Component `index` (0-based) of every embedding, on one shared scale. */
  component(index: number, options: { colormap?: ColormapName } = {}): ImageGrid {
    const images = componentImages(this.projections, index, { ...this.options, ...options });
    const ratio = this.basis.explainedVarianceRatio[index];
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
    return new PlotlyChart(explainedVarianceFigure([{ name: "shared basis", basis: this.basis }]));
  }

  /** Tokens of embedding `index` in PC space, coloured by the label map of that image. */
  scatter(
    labels: { readonly width: number; readonly height: number; readonly data: ArrayLike<number> },
    options: { index?: number; labelNames?: readonly string[]; components?: readonly [number, number] } = {},
  ): PlotlyChart {
    const i = options.index ?? 0;
    const p = this.projections[i];
    if (!p) throw new Error(`no embedding #${i}; there are ${this.projections.length}.`);
    const t = tokenLabels(labels, p.embedding, p.grid);
    return new PlotlyChart(
      tokenScatterFigure(p, t, { labelNames: options.labelNames, components: options.components, title: `${this.names[i]}: tokens in PC space` }),
    );
  }

  [DISPLAY](): Promise<MimeBundle> {
    return this.grid()[DISPLAY]();
  }
}

/** PCA of embeddings, shown side by side on a shared basis. */
export function pcaView(embeddings: Embedding | readonly Embedding[], options: PcaViewOptions = {}): PcaView {
  return new PcaView(Array.isArray(embeddings) ? (embeddings as readonly Embedding[]) : [embeddings as Embedding], options);
}
