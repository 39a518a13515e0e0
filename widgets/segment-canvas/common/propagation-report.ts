/**
 * Reading a propagation report (state.ts's PropagationReport) the same way on both sides: the
 * kernel checks a re-propagation's slice with it, the browser draws the strip from it and
 * enables its re-propagate button. Pure, so Node tests cover it.
 */
import { ActionError, type PropagationReport, type WireDirection } from "./state.js";

/**
 * Which way a re-propagation from slice z runs: away from the slices the last propagation
 * started from (+1 up, -1 down). Refused between them: there the gap was filled from both sides.
 */
export function repropagateStep(seeds: readonly number[], z: number): 1 | -1 {
  if (seeds.length === 0) throw new ActionError("nothing to re-propagate: propagate the object first (Shift+S), fix a slice, then press F on it");
  const lo = Math.min(...seeds);
  const hi = Math.max(...seeds);
  if (z >= lo && z <= hi) throw new ActionError(`slice ${z} is not beyond the slices propagated from (${lo === hi ? lo : `${lo}–${hi}`}); re-propagate from a slice above or below them`);
  return z > hi ? 1 : -1;
}

/** Why one direction stopped, in words (the strip's caption). */
export function stopReasonText(d: WireDirection, threshold: number | null, depth: number): string {
  switch (d.reason) {
    case "iou":
      return `IoU with slice ${d.lastWritten} under ${threshold ?? "the threshold"} at slice ${d.stoppedAt}`;
    case "empty":
      return `empty mask at slice ${d.stoppedAt}`;
    case "edge":
      return `volume end (slice ${d.stoppedAt < 0 ? 0 : depth - 1})`;
    case "stop-annotation":
    case "stop-flag":
      return `stop annotation at slice ${d.stoppedAt}`;
    case "aborted":
      return `aborted at slice ${d.stoppedAt}`;
    default:
      return `${d.reason} at slice ${d.stoppedAt}`;
  }
}

/** What the strip shows for one slice. */
export type CellKind = "seed" | "restart" | "written" | "filled" | "refused" | "none";

export interface StripCell {
  readonly z: number;
  readonly kind: CellKind;
  /** The decoder's predicted IoU (the bar's height), or null. */
  readonly iou: number | null;
  /** IoU with the previous slice's mask (the stop test), or null. */
  readonly overlap: number | null;
  /** The cell's tooltip. */
  readonly title: string;
}

/** One cell per slice of the volume, from the report. */
export function stripCells(report: PropagationReport, depth: number): StripCell[] {
  const byZ = new Map(report.slices.map((o) => [o.z, o]));
  const seeds = new Set(report.seeds);
  const restarts = new Set(report.restarts);
  const cells: StripCell[] = [];
  for (let z = 0; z < depth; z++) {
    const o = byZ.get(z);
    if (seeds.has(z) || restarts.has(z)) {
      const kind = seeds.has(z) ? "seed" : "restart";
      cells.push({ z, kind, iou: null, overlap: null, title: `slice ${z}: ${kind === "seed" ? "prompted (propagated from)" : "fixed, propagated again from here"}` });
    } else if (!o) {
      cells.push({ z, kind: "none", iou: null, overlap: null, title: `slice ${z}: not reached` });
    } else {
      const kind: CellKind = !o.written ? "refused" : o.kind === "filled" ? "filled" : "written";
      const parts = [`slice ${z}`];
      if (o.iou !== null) parts.push(`predicted IoU ${o.iou.toFixed(3)}`);
      if (o.overlap !== null) parts.push(`IoU with slice ${o.from} ${o.overlap.toFixed(3)}`);
      parts.push(`${o.area} px`);
      parts.push(kind === "refused" ? (o.area === 0 ? "empty: not written" : "under the threshold: not written") : kind === "filled" ? "filled between prompted slices" : "written");
      cells.push({ z, kind, iou: o.iou, overlap: o.overlap, title: parts.join(", ") });
    }
  }
  return cells;
}

/** The strip's caption: how each direction ended. */
export function stripCaption(report: PropagationReport, depth: number): string {
  const part = (name: string, d: WireDirection | null) => (d ? `${name}: ${stopReasonText(d, report.threshold, depth)}` : undefined);
  return [part("down", report.below), part("up", report.above)].filter((p) => p !== undefined).join(" · ");
}
