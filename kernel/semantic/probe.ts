/**
 * How well an encoder's features separate the classes of a label map: the same head trained on the
 * same labelled slices of each model's embeddings, scored by per-class Dice on the slices it did not
 * see, with each model's PCA picture of one slice beside the numbers (the paper's figure of PCA
 * pictures, made quantitative).
 */
import { VolumeEmbeddings, type Embedder, type VolumeEmbeddingsOptions } from "../cache/volume-embeddings.js";
import type { Volume } from "../io/volume.js";
import { DISPLAY, PlotlyChart, type MimeBundle, type PlotlyFigure } from "../display/plotly.js";
import { tableBundle } from "../display/figures-protocol.js";
import { pcaView, type PcaView } from "../display/figures-pca.js";
import { labelData, sliceDice, viewDims, volumeSamples, type LabelVoxels } from "./dataset.js";
import { readSliceOf } from "../io/volume-view.js";
import { trainSemanticHead, type SemanticHead, type TrainHeadOptions } from "./head.js";

export interface ProbeOptions extends TrainHeadOptions, Pick<VolumeEmbeddingsOptions, "view" | "intensity" | "storeRoot"> {
  readonly trainSlices: readonly number[];
  /** Default: every other slice that holds a label of the head's classes. */
  readonly testSlices?: readonly number[];
  /** Slice shown in the PCA pictures (default the middle training slice). */
  readonly pcaSlice?: number;
  /** Captions of the models (default their manifest names). */
  readonly names?: readonly string[];
}

export interface ProbeRow {
  readonly model: string;
  readonly label: number;
  readonly class: string;
  readonly dice: number;
  readonly truthPixels: number;
}

export interface ProbeModelResult {
  readonly name: string;
  readonly head: SemanticHead;
  readonly trainSeconds: number;
}

export class ProbeReport {
  constructor(
    readonly rows: readonly ProbeRow[],
    readonly models: readonly ProbeModelResult[],
    readonly trainSlices: readonly number[],
    readonly testSlices: readonly number[],
    readonly pca: PcaView,
  ) {}

  /** One row per class, one Dice column per model. */
  table(): { html: string; text: string } {
    const byClass = new Map<number, Record<string, string | number>>();
    for (const r of this.rows) {
      const row = byClass.get(r.label) ?? { label: r.label, class: r.class };
      row[`Dice ${r.model}`] = r.dice;
      byClass.set(r.label, row);
    }
    return tableBundle([...byClass.values()], `Per-class Dice on held-out slices ${compact(this.testSlices)} (trained on ${this.trainSlices.join(", ")})`);
  }

  chart(): PlotlyChart {
    const classes = [...new Set(this.rows.filter((r) => r.label !== 0).map((r) => r.class))];
    const figure: PlotlyFigure = {
      data: this.models.map((m) => ({
        type: "bar",
        name: m.name,
        x: classes,
        y: classes.map((c) => this.rows.find((r) => r.model === m.name && r.class === c)?.dice ?? 0),
      })),
      layout: {
        title: { text: `${this.models[0]?.head.kind ?? ""} head on frozen features: Dice on held-out slices` },
        barmode: "group",
        yaxis: { title: { text: "Dice" }, range: [0, 1] },
        xaxis: { title: { text: "class" } },
      },
    };
    return new PlotlyChart(figure);
  }

  async [DISPLAY](): Promise<MimeBundle> {
    const t = this.table();
    const chart = await this.chart()[DISPLAY]();
    const pca = await this.pca[DISPLAY]();
    return {
      "text/plain": t.text,
      "text/html": `${t.html}${String(chart["text/html"] ?? "")}${String(pca["text/html"] ?? "")}`,
    };
  }
}

function compact(slices: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < slices.length; i++) {
    let j = i;
    while (j + 1 < slices.length && slices[j + 1] === slices[j]! + 1) j++;
    out.push(j > i ? `${slices[i]}-${slices[j]}` : String(slices[i]));
    i = j;
  }
  return out.join(",");
}

/** Trains the same head on each model's features of `trainSlices` and scores it on the other labelled slices. */
export async function probeReport(
  models: readonly Embedder[],
  volume: Volume,
  labels: LabelVoxels,
  options: ProbeOptions,
): Promise<ProbeReport> {
  if (models.length === 0) throw new Error("probeReport needs at least one model");
  const names = options.names ?? models.map((m) => m.manifest.name);
  if (names.length !== models.length) throw new Error(`names has ${names.length} entries for ${models.length} models`);
  const kind = options.kind ?? "linear";
  const rows: ProbeRow[] = [];
  const results: ProbeModelResult[] = [];
  const pcaEmbeddings = [];
  let testSlices: readonly number[] = [];
  for (const [i, model] of models.entries()) {
    const embeddings = await VolumeEmbeddings.open(volume, model, {
      ...(options.view ? { view: options.view } : {}),
      ...(options.intensity ? { intensity: options.intensity } : {}),
      ...(options.storeRoot !== undefined ? { storeRoot: options.storeRoot } : {}),
    });
    const samples = await volumeSamples(embeddings, labels, options.trainSlices);
    const t0 = performance.now();
    const head = await trainSemanticHead(samples, { ...options, kind });
    const trainSeconds = (performance.now() - t0) / 1000;
    if (i === 0) testSlices = options.testSlices ?? labelledSlices(embeddings, labels, head.classes, options.trainSlices);
    const predicted = await head.predictVolume(embeddings, { slices: testSlices });
    for (const d of sliceDice(predicted.labels, labels, embeddings, testSlices, head.classes)) {
      rows.push({ model: names[i]!, label: d.label, class: head.classNames[head.classes.indexOf(d.label)]!, dice: d.dice, truthPixels: d.truthPixels });
    }
    results.push({ name: names[i]!, head, trainSeconds });
    const sorted = [...options.trainSlices].sort((a, b) => a - b);
    pcaEmbeddings.push(await embeddings.get(options.pcaSlice ?? sorted[Math.floor(sorted.length / 2)]!));
  }
  const pca = await pcaView(pcaEmbeddings, { names });
  return new ProbeReport(rows, results, options.trainSlices, testSlices, pca);
}

/** Slices other than `train` that hold at least one non-background label of `classes`. */
function labelledSlices(embeddings: VolumeEmbeddings, labels: LabelVoxels, classes: readonly number[], train: readonly number[]): number[] {
  const dims = viewDims(embeddings);
  const data = labelData(labels, dims);
  const wanted = new Set(classes.filter((c) => c !== 0));
  const out: number[] = [];
  for (let z = 0; z < embeddings.depth; z++) {
    if (train.includes(z)) continue;
    const slice = readSliceOf(data, dims, embeddings.mapping, z);
    if (slice.some((v) => wanted.has(v))) out.push(z);
  }
  return out;
}
