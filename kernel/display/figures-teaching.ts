/**
 * The teaching view of the simulated interactive segmentation: one picture per round with the
 * object's true outline (yellow), the prediction (pixels it got right in the label colour, the
 * ones it missed and the ones it spilled onto shaded apart), the box of a box start, every prompt
 * point so far (the newest larger), and a caption with the round's Dice, true and predicted IoU
 * and where the round's new points came from -- how interactive segmentation behaves click after
 * click. `zoom` crops to the object and enlarges it, so that a 30-pixel organ stays readable.
 */
import type { ObjectRun, RoundResult } from "../evaluation/protocol.js";
import type { NegativeSource, PositiveSource } from "../evaluation/protocol-prompts.js";
import type { RgbImage8 } from "../io/image.js";
import { ImageGrid } from "./figures-images.js";
import { labelLegend } from "./overlay.js";
import { boundingRegion, drawTeachingPanel, fullFrame, teachingLegend, zoomCrop, type Crop } from "./teaching-draw.js";

export { MISSED_COLOR, SPILLED_COLOR } from "./teaching-draw.js";

export interface TeachingViewOptions {
  /** The object's true mask: its yellow outline, and the missed / spilled shading. */
  readonly target?: Uint8Array;
  /** Label names for the legend (index = class id). */
  readonly names?: readonly string[];
  readonly columns?: number;
  readonly panelWidth?: number;
  /**
   * Crop every panel to the object (its box, the box prompt and all points, plus a margin) and
   * enlarge it by a whole factor (at most 8) so that it fills at least `panelWidth` (default 240)
   * pixels. `true` uses a margin of 40 % of the object's size (at least 8 px); a number sets the
   * margin in pixels.
   */
  readonly zoom?: boolean | number;
  /** Shade missed and spilled pixels apart from correct ones (default true when `target` is given). */
  readonly shadeErrors?: boolean;
}

const POSITIVE_SOURCE: Record<PositiveSource, string> = {
  "false-negative": "+ on missed",
  "true-positive": "+ inside (none missed)",
};
const NEGATIVE_SOURCE: Record<NegativeSource, string> = {
  "false-positive": "− on spilled",
  "box-ring": "− box ring (none spilled)",
};

/** Where the round's new points came from, in the protocol's words (round 0: the start prompt). */
export function roundSources(run: ObjectRun, round: RoundResult): string {
  if (round.round === 0) {
    if (run.start === "box") return "start: the box";
    return `start: one click, token ${round.token}`;
  }
  const parts = [round.positiveSource ? POSITIVE_SOURCE[round.positiveSource] : undefined, round.negativeSource ? NEGATIVE_SOURCE[round.negativeSource] : undefined];
  return `new: ${parts.filter((p) => p !== undefined).join(", ")}`;
}

/** The region every panel shows: the whole image, or with `zoom` the object, box and points. */
function cropFor(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions): Crop {
  if (!options.zoom) return fullFrame(image);
  const region = boundingRegion(
    [run.box, ...run.rounds.flatMap((r) => (r.box ? [r.box] : []))],
    run.rounds.flatMap((r) => r.points),
  );
  return zoomCrop(image, region, typeof options.zoom === "number" ? options.zoom : undefined, options.panelWidth);
}

export function teachingPanels(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions = {}): { image: RgbImage8; caption: string }[] {
  const n = image.width * image.height;
  if (options.target && options.target.length !== n) {
    throw new Error(`target has ${options.target.length} pixels but the image is ${image.width}x${image.height}.`);
  }
  const crop = cropFor(image, run, options);
  const shade = options.shadeErrors ?? true;
  return run.rounds.map((r) => {
    if (!r.mask) {
      throw new Error("the protocol run has no masks; run it with { keepMasks: true } to draw the teaching view.");
    }
    if (r.mask.length !== n) {
      throw new Error(`round masks are ${r.mask.length} pixels but the image is ${image.width}x${image.height}.`);
    }
    const previous = run.rounds[r.round - 1]?.points.length ?? 0;
    const pic = drawTeachingPanel(image, crop, {
      mask: r.mask,
      label: run.classId,
      ...(options.target ? { target: options.target } : {}),
      shade,
      ...(r.box ? { box: r.box } : {}),
      points: r.points.map((p, i) => ({ ...p, size: i >= previous ? 7 : 4 })),
    });
    const what = r.round === 0 ? `${run.start} start` : `round ${r.round}`;
    const caption = [`${what} · Dice ${r.dice.toFixed(3)}`, `IoU ${r.iou.toFixed(2)} · predicted ${r.predictedIou.toFixed(2)}`, roundSources(run, r)];
    return { image: pic, caption: caption.join("\n") };
  });
}

export function teachingView(image: RgbImage8, run: ObjectRun, options: TeachingViewOptions = {}): ImageGrid {
  const name = options.names?.[run.classId] ?? `label ${run.classId}`;
  const panels = teachingPanels(image, run, options);
  const shade = (options.shadeErrors ?? true) && options.target !== undefined;
  const legend = [
    ...labelLegend([run.classId], options.names ?? []).map((e) => ({ ...e, name: `${e.name}${shade ? ", correct" : " (prediction)"}` })),
    ...teachingLegend(shade, options.target !== undefined, run.start === "box"),
  ];
  const zoomed = panels[0]!.image.width !== image.width || panels[0]!.image.height !== image.height;
  return new ImageGrid(panels, {
    title:
      `${name}, object ${run.component + 1}: ${run.start} start and ${run.rounds.length - 1} correction rounds` +
      (zoomed ? " (zoomed on the object)" : ""),
    columns: options.columns ?? 4,
    panelWidth: options.panelWidth ?? (zoomed ? panels[0]!.image.width : Math.min(240, image.width)),
    legend,
    pointsLegend: true,
  });
}
