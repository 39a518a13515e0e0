/**
 * The teaching view of the simulated interactive segmentation: one picture per round with the
 * object's true outline (yellow), the predicted mask, every prompt point so far (the newest
 * larger), and the round's Dice -- how interactive segmentation behaves click after click.
 */
import type { ObjectRun } from "../evaluation/protocol.js";
import type { RgbImage8 } from "../io/image.js";
import { ImageGrid } from "./figures-images.js";
import { drawMarkers, drawOutline, drawOverlay, labelLegend, type Marker } from "./overlay.js";

/** Yellow reads on grey anatomy and on every label colour. */
const TARGET_COLOR = [255, 220, 0] as const;

export interface TeachingViewOptions {
  /** The object's true mask, drawn as a yellow outline. */
  readonly target?: Uint8Array;
  /** Label names for the legend (index = class id). */
  readonly names?: readonly string[];
  readonly columns?: number;
  readonly panelWidth?: number;
}

export function teachingPanels(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions = {}): { image: RgbImage8; caption: string }[] {
  return run.rounds.map((r) => {
    if (!r.mask) {
      throw new Error("the protocol run has no masks; run it with { keepMasks: true } to draw the teaching view.");
    }
    if (r.mask.length !== image.width * image.height) {
      throw new Error(`round masks are ${r.mask.length} pixels but the image is ${image.width}x${image.height}.`);
    }
    let pic = drawOverlay(image, [{ mask: r.mask, label: run.classId }], [], 0.4);
    if (options.target) pic = drawOutline(pic, options.target, TARGET_COLOR);
    const previous = run.rounds[r.round - 1]?.points.length ?? 0;
    const markers: Marker[] = r.points.map((p, i) => ({ ...p, size: i >= previous ? 7 : 4 }));
    pic = drawMarkers(pic, markers);
    const what = r.round === 0 ? `${run.start} start` : `round ${r.round}`;
    return { image: pic, caption: `${what} · Dice ${r.dice.toFixed(3)}` };
  });
}

export function teachingView(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions = {}): ImageGrid {
  const name = options.names?.[run.classId] ?? `label ${run.classId}`;
  return new ImageGrid(teachingPanels(image, run, options), {
    title: `${name}, object ${run.component + 1}: ${run.start} start and ${run.rounds.length - 1} correction rounds`,
    columns: options.columns ?? 4,
    panelWidth: options.panelWidth ?? Math.min(240, image.width),
    legend: [
      ...labelLegend([run.classId], options.names ?? []).map((e) => ({ ...e, name: `${e.name} (prediction)` })),
      ...(options.target ? [{ color: TARGET_COLOR, name: "true outline" }] : []),
    ],
    pointsLegend: true,
  });
}
