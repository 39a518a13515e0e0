/**
 * The protocol over a dataset: embed each image once, run the point start and the box start on
 * every object, and collect plain rows. Several models or datasets are merged afterwards with
 * `ProtocolResults.merge`, then summarised with the paper's averaging.
 */
import type { ObjectOptions, LabelMap } from "../analysis/objects.js";
import type { Image2D } from "../io/image.js";
import type { IntensitySpec } from "../intensity/spec.js";
import type { Embedding } from "../sam/embedding.js";
import { evaluateImage } from "./protocol-image.js";
import type { StartMode } from "./protocol-prompts.js";
import {
  classRows,
  objectRows,
  summarize,
  toCsv,
  type ClassRow,
  type DatasetSummaryRow,
  type ObjectRow,
  type SummaryRow,
} from "./protocol-table.js";
import type { ProtocolEngine, ProtocolOptions } from "./protocol.js";

/** A model the dataset runner can use: SamModel fits. */
export interface ProtocolModel extends ProtocolEngine {
  readonly name?: string;
  embed(image: Image2D, options?: { intensity?: IntensitySpec }): Promise<Embedding>;
}

export interface EvaluationItem {
  /** Shown in the rows (a file name, a case id, "slice 42"). */
  readonly name: string;
  readonly image: Image2D;
  readonly labels: LabelMap;
}

export interface DatasetOptions extends Omit<ProtocolOptions, "start" | "keepMasks">, ObjectOptions {
  readonly dataset: string;
  /** Name in the rows (default: the model's name). */
  readonly model?: string;
  /** Start modes to run (default both, as in the paper). */
  readonly starts?: readonly StartMode[];
  readonly intensity?: IntensitySpec;
  /** Called after each image with how many are done. */
  readonly onProgress?: (done: number, item: string) => void;
}

export class ProtocolResults {
  constructor(
    readonly objects: readonly ObjectRow[],
    readonly classes: readonly ClassRow[],
  ) {}

  static merge(...results: readonly ProtocolResults[]): ProtocolResults {
    return new ProtocolResults(
      results.flatMap((r) => r.objects),
      results.flatMap((r) => r.classes),
    );
  }

  /** Mean over datasets of mean over classes of mean over images, per model, start and round. */
  summary(): SummaryRow[] {
    return summarize(this.classes).overall;
  }

  perDataset(): DatasetSummaryRow[] {
    return summarize(this.classes).perDataset;
  }

  /** The chosen table as CSV (default: per image and class, the rows the paper averages). */
  toCsv(table: "objects" | "classes" | "summary" | "datasets" = "classes"): string {
    switch (table) {
      case "objects":
        return toCsv(this.objects);
      case "classes":
        return toCsv(this.classes);
      case "summary":
        return toCsv(this.summary());
      case "datasets":
        return toCsv(this.perDataset());
      default:
        throw new Error(`table must be 'objects', 'classes', 'summary' or 'datasets', got '${String(table)}'.`);
    }
  }

  toJSON(): { objects: readonly ObjectRow[]; classes: readonly ClassRow[]; summary: SummaryRow[]; perDataset: DatasetSummaryRow[] } {
    const { overall, perDataset } = summarize(this.classes);
    return { objects: this.objects, classes: this.classes, summary: overall, perDataset };
  }
}

export async function evaluateDataset(
  model: ProtocolModel,
  items: Iterable<EvaluationItem> | AsyncIterable<EvaluationItem>,
  options: DatasetOptions,
): Promise<ProtocolResults> {
  const starts = options.starts ?? ["point", "box"];
  if (starts.length === 0) throw new Error("starts is empty; give 'point', 'box' or both.");
  const modelName = options.model ?? model.name;
  if (!modelName) throw new Error("the model has no name; pass options.model to label the rows.");
  const objects: ObjectRow[] = [];
  const classes: ClassRow[] = [];
  let done = 0;
  for await (const item of items) {
    const embedding = await model.embed(item.image, options.intensity ? { intensity: options.intensity } : {});
    const labels = { dataset: options.dataset, model: modelName, image: item.name };
    for (const start of starts) {
      const ev = await evaluateImage(model, embedding, item.labels, { ...options, start });
      objects.push(...objectRows(ev, labels));
      classes.push(...classRows(ev, labels));
    }
    options.onProgress?.(++done, item.name);
  }
  return new ProtocolResults(objects, classes);
}
