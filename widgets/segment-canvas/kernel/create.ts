/**
 * `segmentCanvas(model, image)`: the canvas's first state (geometry, pixels, window, palette)
 * from the image or volume and the options, and the SegmentCanvas that owns it.
 */
import { LABEL_COLORS } from "../../../kernel/display/overlay.js";
import { WINDOW_PRESETS, windowPreset } from "../../../kernel/intensity/presets.js";
import { LabelStore } from "../common/labels.js";
import { encodeStack } from "../common/mask-codec.js";
import { parseSlice, type NamedWindow, type SegmentCanvasState, type WindowLevel } from "../common/state.js";
import { SegmentCanvas } from "./canvas.js";
import { canvasSource, type CanvasInput, type CanvasSource } from "./source.js";
import type { CanvasModel, SegmentCanvasOptions } from "./types.js";

function defaultWindow(source: CanvasSource, requested: SegmentCanvasOptions["window"]): WindowLevel {
  if (typeof requested === "string") {
    const preset = windowPreset(requested);
    if (!preset) throw new Error(`unknown window preset '${requested}'; choose one of ${Object.keys(WINDOW_PRESETS).join(", ")}, or pass {level, width}`);
    return { level: preset.level, width: preset.width };
  }
  if (requested) {
    if (!Number.isFinite(requested.level) || !(requested.width > 0)) throw new Error(`window needs a finite level and a width > 0, got ${JSON.stringify(requested)}`);
    return { level: requested.level, width: requested.width };
  }
  if (source.dtype === "uint8") return { level: 127.5, width: 255 };
  const [lo, hi] = source.valueRange;
  return { level: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6) };
}

function windowPresets(source: CanvasSource): NamedWindow[] {
  const [lo, hi] = source.valueRange;
  const out: NamedWindow[] = [{ name: "full range", level: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6) }];
  // CT windows only make sense for Hounsfield units: air at -1000 shows as a minimum far below 0.
  if (lo <= -500) for (const [name, p] of Object.entries(WINDOW_PRESETS)) out.push({ name, level: p.level, width: p.width });
  return out;
}

/**
 * Shows `input` (a 2D image or a volume) with the model attached: click to segment, C to
 * commit, and read `w.labels` from the notebook. The cell's value displays the widget.
 */
export function segmentCanvas(model: CanvasModel, input: CanvasInput, options: SegmentCanvasOptions = {}): SegmentCanvas {
  const source = canvasSource(input, options.view);
  const slice = options.slice ?? Math.floor((source.depth - 1) / 2);
  parseSlice(slice, source.depth);
  const store = new LabelStore(source);
  const initial: SegmentCanvasState = {
    width: source.width,
    height: source.height,
    depth: source.depth,
    channels: source.channels,
    dtype: source.dtype,
    pixels: source.pixelBytes(),
    value_range: source.valueRange,
    pixel_aspect: source.pixelAspect,
    orientation: source.orientation,
    window: defaultWindow(source, options.window),
    window_presets: windowPresets(source),
    palette: LABEL_COLORS.map((c) => [c[0], c[1], c[2]] as [number, number, number]),
    highlight: [255, 214, 0],
    title: options.title ?? "",
    notice: model.notice ?? "",
    slice,
    prompts: { points: [], boxes: [] },
    current: encodeStack(source, new Map()),
    current_for: null,
    labels: store.encode(),
    labels_for: null,
    objects: [],
    candidates: null,
    propagation: null,
    next_label: 1,
    can_undo: false,
    can_redo: false,
    can_propagate: options.propagate !== false && source.depth > 1,
    proposals: [],
    auto_segment: options.autoSegment ?? true,
    status: "embedding",
    status_text: source.depth > 1 ? `embedding slice ${slice}…` : "embedding the image…",
    error: "",
    error_seq: 0,
    ack: null,
  };
  return new SegmentCanvas(model, source, options, initial);
}
