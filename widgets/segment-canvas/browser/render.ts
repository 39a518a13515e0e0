/**
 * The segmentation canvas in the browser: `render({model, el})` returns a cleanup, as an
 * anywidget view would; view.ts wraps it for @jupyter-widgets/base.
 *
 * This file holds the view's state and follows the model: the kernel's fields are decoded as
 * they change (pixels once, masks as run-length-encoded stacks), and the only things sent back
 * are actions (JSON, on click or key press, input.ts) and the slice index (debounced). The
 * parts: dom.ts builds the elements, draw.ts draws, panel.ts fills the controls, input.ts
 * takes input; compose.ts, viewport.ts and keys.ts are their pure cores.
 */
import { DEFAULT_BRUSH } from "../common/brush.js";
import { decodeRle, decodeStack, type SliceStack } from "../common/mask-codec.js";
import type { ActionRef, SegmentCanvasState } from "../common/state.js";
import { bytesOf, samplesOf } from "./compose.js";
import type { CanvasContext, LocalState, ModelLike, ShownImage } from "./context.js";
import { renderCandidates } from "./candidates.js";
import { renderPropagation } from "./propagation-strip.js";
import { buildDom } from "./dom.js";
import { Painter } from "./draw.js";
import { attachInput } from "./input.js";
import { Outbox, type LatencyDetail } from "./outbox.js";
import { Panel } from "./panel.js";
import { ProposalLayer } from "./proposals.js";
import { fitView } from "./viewport.js";

export type { ModelLike } from "./context.js";
export type { LatencyDetail } from "./outbox.js";

export interface RenderArgs {
  model: ModelLike;
  el: HTMLElement;
}

/** Slice changes within this time send one update to the kernel, not one per step. */
const SLICE_DEBOUNCE_MS = 120;

export function render({ model, el: host }: RenderArgs): () => void {
  const doc = host.ownerDocument;
  const get = <K extends keyof SegmentCanvasState>(key: K) => model.get(key) as SegmentCanvasState[K];
  const dom = buildDom(doc, host);
  const outbox = new Outbox();
  const local: LocalState = {
    positiveMode: true,
    win: { ...get("window") },
    opacity: 0.5,
    outlineOnly: false,
    slice: get("slice"),
    view: { scale: 1, ox: 0, oy: 0 },
    fitted: false,
    drag: undefined,
    hover: undefined,
    dismissedError: -1,
    tool: "prompt",
    brushRadius: DEFAULT_BRUSH,
    brushTarget: 0,
    stroke: undefined,
    hidden: new Set(),
  };
  const image: ShownImage = {
    width: get("width"),
    height: get("height"),
    depth: get("depth"),
    channels: get("channels"),
    aspect: get("pixel_aspect") || 1,
    samples: new Uint8Array(0),
    labels: undefined,
    current: undefined,
  };
  const labelCache = new Map<number, Uint16Array>();
  const currentCache = new Map<number, Uint8Array>();
  let sliceTimer: ReturnType<typeof setTimeout> | undefined;

  const ctx: CanvasContext = {
    doc,
    model,
    dom,
    image,
    local,
    proposals: new ProposalLayer(),
    get,
    labelSlice(z) {
      const rle = image.labels?.slices.get(z);
      if (!rle) return undefined;
      let s = labelCache.get(z);
      if (!s) {
        s = decodeRle(rle, image.width * image.height, new Uint16Array(image.width * image.height));
        labelCache.set(z, s);
      }
      return s;
    },
    currentSlice(z) {
      const rle = image.current?.slices.get(z);
      if (!rle) return undefined;
      let s = currentCache.get(z);
      if (!s) {
        s = decodeRle(rle, image.width * image.height);
        currentCache.set(z, s);
      }
      return s;
    },
    act(action) {
      model.send(outbox.message(action));
      panel.busy();
    },
    setSlice(z) {
      const next = Math.max(0, Math.min(image.depth - 1, Math.round(z)));
      if (next === local.slice) return;
      local.slice = next;
      panel.slice();
      renderCandidates(ctx);
      renderPropagation(ctx);
      ctx.refresh();
      panel.cursor();
      if (sliceTimer) clearTimeout(sliceTimer);
      // The kernel only needs the slice to embed ahead; scrolling sends one update, not one per step.
      sliceTimer = setTimeout(() => {
        sliceTimer = undefined;
        model.set("slice", local.slice);
        model.save_changes();
      }, SLICE_DEBOUNCE_MS);
    },
    schedule: () => painter.schedule(),
    refresh() {
      painter.invalidate();
      painter.schedule();
    },
    stageSize() {
      const w = Math.max(dom.stage.clientWidth, 100);
      return { w, h: Math.max(dom.stage.clientHeight, 100) };
    },
    fit() {
      local.view = fitView(ctx.stageSize(), image.width, image.height, image.aspect);
      local.fitted = true;
    },
  };
  const painter = new Painter(ctx);
  const panel = new Panel(ctx, outbox);
  attachInput(ctx, panel, painter);

  // ---- following the model ----------------------------------------------------------------------
  function readStack(key: "labels" | "current"): SliceStack | undefined {
    const bytes = bytesOf(model.get(key));
    if (!bytes) return undefined;
    try {
      return decodeStack(bytes, image);
    } catch (err) {
      panel.showError(`could not read '${key}' from the kernel: ${(err as Error).message}`);
      return undefined;
    }
  }

  const onGeometry = () => {
    image.width = get("width");
    image.height = get("height");
    image.depth = get("depth");
    image.channels = get("channels");
    image.aspect = get("pixel_aspect") || 1;
    const bytes = bytesOf(model.get("pixels"));
    image.samples = bytes ? samplesOf(bytes, get("dtype")) : new Uint8Array(0);
    painter.resize(image.width, image.height);
    image.labels = readStack("labels");
    image.current = readStack("current");
    labelCache.clear();
    currentCache.clear();
    ctx.proposals.update(get("proposals"), image.width, image.height);
    panel.slice();
    panel.window();
    ctx.refresh();
  };
  /** The kernel answered one of this view's actions (a mask or the labels changed for it): its latency, as an event. */
  const answered = (ref: ActionRef | null) => {
    const detail = outbox.answered(ref);
    if (detail) {
      dom.root.dataset.lastLatency = String(detail.ms);
      dom.root.dispatchEvent(new CustomEvent<LatencyDetail>("msam-latency", { detail, bubbles: true }));
    }
  };
  const onLabels = () => {
    image.labels = readStack("labels");
    labelCache.clear();
    painter.invalidate();
    panel.cursor();
    // Draw now: a brush stroke's latency is measured to the labels on screen.
    painter.draw();
    answered(get("labels_for") as ActionRef | null);
  };
  const onCurrent = () => {
    image.current = readStack("current");
    currentCache.clear();
    painter.invalidate();
    panel.buttons();
    // Draw now (not at the next frame) so the latency measured is what the user sees.
    painter.draw();
    answered(get("current_for") as ActionRef | null);
  };
  const onAck = () => {
    outbox.acknowledge(get("ack") as ActionRef | null);
    panel.busy();
  };
  const onSliceFromKernel = () => {
    if (sliceTimer) return;
    const z = get("slice");
    if (z !== local.slice) {
      local.slice = z;
      panel.slice();
      renderPropagation(ctx);
      ctx.refresh();
    }
  };
  const onWindow = () => {
    local.win = { ...get("window") };
    panel.window();
    ctx.schedule();
  };
  const onProposals = () => {
    ctx.proposals.update(get("proposals"), image.width, image.height);
    panel.proposals();
    ctx.refresh();
  };
  const busy = () => (panel.busy(), panel.proposals());
  const error = () => panel.error();
  const buttons = () => panel.buttons();
  const header = () => panel.header();
  const listeners: [string, () => void][] = [
    ["change:pixels", onGeometry],
    ["change:labels", onLabels],
    ["change:current", onCurrent],
    ["change:prompts", () => ctx.schedule()],
    ["change:ack", onAck],
    ["change:status", busy],
    ["change:status_text", busy],
    ["change:error_seq", error],
    ["change:error", error],
    ["change:objects", () => (panel.objects(), panel.tools())],
    ["change:can_undo", buttons],
    ["change:can_redo", buttons],
    ["change:can_propagate", buttons],
    ["change:proposals", onProposals],
    ["change:slice", onSliceFromKernel],
    ["change:window", onWindow],
    ["change:window_presets", () => (panel.presets(), panel.window())],
    ["change:title", header],
    ["change:notice", header],
    ["change:orientation", () => panel.orientation()],
    ["change:candidates", () => renderCandidates(ctx)],
    ["change:propagation", () => renderPropagation(ctx)],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);

  const pruneTimer = setInterval(() => {
    if (outbox.waiting > 0) panel.busy();
  }, 5000);
  const resize = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => ((local.fitted = false), ctx.schedule())) : undefined;
  resize?.observe(dom.stage);

  onGeometry();
  onProposals();
  panel.presets();
  panel.window();
  panel.mode();
  panel.buttons();
  panel.busy();
  panel.error();
  panel.objects();
  panel.tools();
  panel.orientation();
  panel.header();
  renderCandidates(ctx);
  renderPropagation(ctx);
  ctx.schedule();

  return () => {
    for (const [event, fn] of listeners) model.off(event, fn);
    resize?.disconnect();
    clearInterval(pruneTimer);
    if (sliceTimer) clearTimeout(sliceTimer);
    painter.cancel();
    dom.root.remove();
  };
}
