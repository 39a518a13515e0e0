/**
 * Protocol results as plain rows (one object per line, only strings and numbers) that a user
 * can save as CSV or JSON, and the paper's averages: Dice per image and class, averaged over
 * images, then over classes, then over datasets -- so a dataset with many images or a class with
 * many objects does not outweigh the others.
 */
import type { ImageEvaluation } from "./protocol-image.js";

/** Where a result came from; `model` and `dataset` are free-form names chosen by the user. */
export interface RunLabels {
  readonly dataset: string;
  readonly model: string;
  readonly image: string;
}

export interface ObjectRow {
  readonly dataset: string;
  readonly model: string;
  readonly image: string;
  readonly start: string;
  readonly classId: number;
  readonly component: number;
  readonly area: number;
  readonly round: number;
  readonly dice: number;
  readonly iou: number;
  readonly positivePoints: number;
  readonly negativePoints: number;
  readonly positiveSource: string;
  readonly negativeSource: string;
  readonly maskPrompt: boolean;
}

export interface ClassRow {
  readonly dataset: string;
  readonly model: string;
  readonly image: string;
  readonly start: string;
  readonly classId: number;
  readonly round: number;
  readonly dice: number;
  readonly iou: number;
  readonly objects: number;
}

export interface SummaryRow {
  readonly model: string;
  readonly start: string;
  readonly round: number;
  /** Mean over datasets of (mean over classes of (mean over images)). */
  readonly dice: number;
  readonly iou: number;
  readonly datasets: number;
}

export interface DatasetSummaryRow {
  readonly dataset: string;
  readonly model: string;
  readonly start: string;
  readonly round: number;
  /** Mean over classes of (mean over images). */
  readonly dice: number;
  readonly iou: number;
  readonly classes: number;
  readonly images: number;
}

export function objectRows(evaluation: ImageEvaluation, labels: RunLabels): ObjectRow[] {
  const rows: ObjectRow[] = [];
  for (const obj of evaluation.objects) {
    for (const r of obj.rounds) {
      let pos = 0;
      for (const p of r.points) if (p.positive) pos++;
      rows.push({
        ...labels,
        start: obj.start,
        classId: obj.classId,
        component: obj.component,
        area: obj.area,
        round: r.round,
        dice: r.dice,
        iou: r.iou,
        positivePoints: pos,
        negativePoints: r.points.length - pos,
        positiveSource: r.positiveSource ?? "",
        negativeSource: r.negativeSource ?? "",
        maskPrompt: r.usedMaskPrompt,
      });
    }
  }
  return rows;
}

export function classRows(evaluation: ImageEvaluation, labels: RunLabels): ClassRow[] {
  return evaluation.classes.map((c) => ({ ...labels, start: evaluation.start, ...c }));
}

function groupMean<T>(
  rows: readonly T[],
  key: (r: T) => string,
  values: (r: T) => readonly number[],
): Map<string, { first: T; means: number[]; count: number }> {
  const groups = new Map<string, { first: T; sums: number[]; count: number }>();
  for (const r of rows) {
    const k = key(r);
    const v = values(r);
    const g = groups.get(k);
    if (g) {
      v.forEach((x, i) => (g.sums[i]! += x));
      g.count++;
    } else {
      groups.set(k, { first: r, sums: [...v], count: 1 });
    }
  }
  const out = new Map<string, { first: T; means: number[]; count: number }>();
  for (const [k, g] of groups) out.set(k, { first: g.first, means: g.sums.map((s) => s / g.count), count: g.count });
  return out;
}

/** The paper's averaging, per dataset and overall, for every model, start mode and round. */
export function summarize(rows: readonly ClassRow[]): { perDataset: DatasetSummaryRow[]; overall: SummaryRow[] } {
  const sep = "\u0000";
  // 1. per (model, start, dataset, class, round): mean over images
  const perClass = groupMean(
    rows,
    (r) => [r.model, r.start, r.dataset, r.classId, r.round].join(sep),
    (r) => [r.dice, r.iou],
  );
  // 2. per (model, start, dataset, round): mean over classes
  const classLevel = [...perClass.values()].map((g) => ({ ...g.first, dice: g.means[0]!, iou: g.means[1]!, images: g.count }));
  const perDatasetGroups = groupMean(
    classLevel,
    (r) => [r.model, r.start, r.dataset, r.round].join(sep),
    (r) => [r.dice, r.iou],
  );
  const imagesPerDataset = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = [r.model, r.start, r.dataset, r.round].join(sep);
    if (!imagesPerDataset.has(k)) imagesPerDataset.set(k, new Set());
    imagesPerDataset.get(k)!.add(r.image);
  }
  const perDataset: DatasetSummaryRow[] = [...perDatasetGroups.entries()].map(([k, g]) => ({
    dataset: g.first.dataset,
    model: g.first.model,
    start: g.first.start,
    round: g.first.round,
    dice: g.means[0]!,
    iou: g.means[1]!,
    classes: g.count,
    images: imagesPerDataset.get(k)!.size,
  }));
  // 3. per (model, start, round): mean over datasets
  const overallGroups = groupMean(
    perDataset,
    (r) => [r.model, r.start, r.round].join(sep),
    (r) => [r.dice, r.iou],
  );
  const overall: SummaryRow[] = [...overallGroups.values()].map((g) => ({
    model: g.first.model,
    start: g.first.start,
    round: g.first.round,
    dice: g.means[0]!,
    iou: g.means[1]!,
    datasets: g.count,
  }));
  const order = (a: { model: string; start: string; round: number }, b: { model: string; start: string; round: number }) =>
    a.model.localeCompare(b.model) || a.start.localeCompare(b.start) || a.round - b.round;
  perDataset.sort((a, b) => a.dataset.localeCompare(b.dataset) || order(a, b));
  overall.sort(order);
  return { perDataset, overall };
}

type Cell = string | number | boolean | null | undefined;

function csvCell(v: Cell): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "number" ? (Number.isFinite(v) ? String(v) : "") : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Rows as CSV (RFC 4180 quoting, header from the union of keys in first-seen order). Numbers are
 * written in full precision, so a round trip through a spreadsheet loses nothing.
 */
export function toCsv(rows: readonly object[]): string {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  const lines = [columns.map(csvCell).join(",")];
  for (const r of rows) {
    const rec = r as Record<string, Cell>;
    lines.push(columns.map((c) => csvCell(rec[c])).join(","));
  }
  return lines.join("\n") + "\n";
}
