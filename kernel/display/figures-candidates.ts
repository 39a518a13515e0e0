/**
 * "One click, several answers": every mask the decoder returned for one prompt side by side,
 * each with its predicted IoU (the decoder's own guess), its true IoU when the true mask is
 * known, and which one the choice rule kept (docs/inference.md §6). The gap between predicted
 * and true IoU is the lesson: the estimate picks among candidates; it is not a quality score.
 */
import { iou } from "../analysis/metrics.js";
import type { RgbImage8 } from "../io/image.js";
import type { Prompt } from "../sam/prompt.js";
import type { SegmentResult } from "../sam/segment-result.js";
import { ImageGrid } from "./figures-images.js";
import { labelLegend } from "./overlay.js";
import { boundingRegion, drawTeachingPanel, fullFrame, maskRegion, teachingLegend, zoomCrop, type Crop } from "./teaching-draw.js";

export interface CandidatesViewOptions {
  /** The object's true mask: each candidate's true IoU, its outline, the missed / spilled shading. */
  readonly target?: Uint8Array;
  /** Label whose colour the masks take (default 1), and names for the legend (index = label). */
  readonly label?: number;
  readonly names?: readonly string[];
  /** Crop to the object and the prompt, enlarged (as teachingView's `zoom`). */
  readonly zoom?: boolean | number;
  readonly panelWidth?: number;
  readonly title?: string;
}

/** Captions, one per candidate: token and choice, predicted (and true) IoU, area. */
export function candidateCaptions(result: SegmentResult, target?: Uint8Array): string[] {
  return result.candidates.map((c) => {
    let area = 0;
    for (const v of c.mask) area += v;
    const role = c.token === 0 ? "single-mask" : "multimask";
    return [
      `token ${c.token} (${role})${c.chosen ? " · chosen" : ""}`,
      `predicted IoU ${c.iou.toFixed(2)}${target ? ` · true ${iou(c.mask, target).toFixed(2)}` : ""}`,
      `${area} px`,
    ].join("\n");
  });
}

export function candidatesView(image: RgbImage8, prompt: Prompt, result: SegmentResult, options: CandidatesViewOptions = {}): ImageGrid {
  const n = image.width * image.height;
  if (result.width !== image.width || result.height !== image.height) {
    throw new Error(`the result is ${result.width}x${result.height} but the image is ${image.width}x${image.height}.`);
  }
  if (options.target && options.target.length !== n) {
    throw new Error(`target has ${options.target.length} pixels but the image is ${image.width}x${image.height}.`);
  }
  if (result.candidates.length === 0) throw new Error("the result has no candidates (a stand-in engine?).");
  const label = options.label ?? 1;
  let crop: Crop = fullFrame(image);
  if (options.zoom) {
    const regions = [maskRegion(result.mask, image.width), options.target ? maskRegion(options.target, image.width) : undefined, prompt.box];
    const region = boundingRegion(
      regions.filter((r) => r !== undefined),
      prompt.points ?? [],
    );
    crop = zoomCrop(image, region, typeof options.zoom === "number" ? options.zoom : undefined, options.panelWidth);
  }
  const captions = candidateCaptions(result, options.target);
  const panels = result.candidates.map((c, k) => ({
    image: drawTeachingPanel(image, crop, {
      mask: c.mask,
      label,
      ...(options.target ? { target: options.target } : {}),
      shade: true,
      ...(prompt.box ? { box: prompt.box } : {}),
      points: (prompt.points ?? []).map((p) => ({ ...p, size: 6 })),
    }),
    caption: captions[k]!,
  }));
  const chosen = result.candidates.find((c) => c.chosen)!;
  const rule =
    result.candidates.length === 1
      ? "a single-mask decoder: its one answer"
      : chosen.token === 0
        ? "token 0 kept: the prompt is more than one positive click"
        : `token ${chosen.token} kept: the best predicted IoU among tokens 1-3 (one positive click)`;
  const shaded = options.target !== undefined;
  return new ImageGrid(panels, {
    title: options.title ?? `The decoder's ${result.candidates.length} answers to one prompt; ${rule}`,
    columns: 4,
    panelWidth: options.panelWidth ?? (crop.scale > 1 ? panels[0]!.image.width : Math.min(240, image.width)),
    legend: [
      ...labelLegend([label], options.names ?? []).map((e) => ({ ...e, name: `${e.name}${shaded ? ", correct" : ""}` })),
      ...teachingLegend(shaded, shaded, prompt.box !== undefined),
    ],
    pointsLegend: (prompt.points ?? []).length > 0,
  });
}
