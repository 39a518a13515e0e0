/**
 * The segmentation canvas in the browser: `render({model, el})` returns a cleanup, as an
 * anywidget view would; view.ts wraps it for @jupyter-widgets/base.
 *
 * Everything visual happens here without the kernel: window/level, slice changes, zoom, pan,
 * the cursor readout, the rubber-band box. Only actions (JSON, on click/keypress) go to the
 * kernel, and only the slice index is written to the model (debounced); the kernel answers
 * with prompts and run-length-encoded masks. Nothing is sent on mouse moves.
 *
 * Drawing: the slice is mapped through the window to gray (or RGB), the committed labels are
 * blended with their colour at the chosen opacity (outlines opaque), the current object the
 * same way in the highlight colour; prompts are drawn in screen space on top. The blend of a
 * filled pixel is `round(base * (1 - a) + colour * a)`, which tests check on the canvas.
 */
import { decodeRle, decodeStack, type SliceStack } from "../shared/mask-codec.js";
import {
  labelColour,
  windowRange,
  type Action,
  type ActionRef,
  type NamedWindow,
  type ObjectSummary,
  type PixelDtype,
  type SegmentCanvasState,
  type WindowLevel,
  type WirePrompts,
} from "../shared/state.js";

/** The parts of a widget model the view uses (Backbone models and anywidget's model both fit). */
export interface ModelLike {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: (...args: unknown[]) => void): void;
  off(event: string, callback: (...args: unknown[]) => void): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

export interface RenderArgs {
  model: ModelLike;
  el: HTMLElement;
}

/** Dispatched on the root element each time a mask answering this view's own action is drawn. */
export interface LatencyDetail {
  seq: number;
  action: Action["type"];
  ms: number;
}

const STYLE_ID = "medicosam-segment-canvas-style";
const CSS = `
.msam-root { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, transparent); border: 1px solid var(--jp-border-color1, #ccc); border-radius: 4px; padding: 6px; max-width: 800px; outline: none; position: relative; }
.msam-root:focus, .msam-root:focus-within { box-shadow: 0 0 0 3px #1a73e8; border-color: #1a73e8; }
.msam-toolbar, .msam-controls, .msam-status { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; margin: 2px 0; }
.msam-toolbar button { font: inherit; padding: 2px 6px; cursor: pointer; }
.msam-toolbar button[aria-pressed="true"] { background: #c62828; color: white; }
.msam-stage { position: relative; background: #111; width: 100%; height: 480px; overflow: hidden; user-select: none; }
.msam-stage canvas { position: absolute; left: 0; top: 0; cursor: crosshair; touch-action: none; }
.msam-orient { position: absolute; color: #ffd54f; font-weight: bold; pointer-events: none; text-shadow: 0 0 2px black; }
.msam-busy { display: inline-block; width: 12px; height: 12px; border: 2px solid #1a73e8; border-right-color: transparent; border-radius: 50%; animation: msam-spin 0.8s linear infinite; }
.msam-busy[hidden] { display: none; }
@keyframes msam-spin { to { transform: rotate(360deg); } }
.msam-error { background: #fdecea; color: #b71c1c; padding: 4px 6px; margin: 4px 0; border-radius: 3px; display: flex; justify-content: space-between; gap: 8px; }
.msam-error[hidden] { display: none; }
.msam-objects { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px; }
.msam-objects li { border: 1px solid #ccc; border-radius: 3px; padding: 1px 4px; display: flex; gap: 4px; align-items: center; }
.msam-swatch { width: 10px; height: 10px; display: inline-block; border: 1px solid #0004; }
.msam-notice { color: #8a6d00; }
.msam-help { color: var(--jp-ui-font-color2, #666); font-size: 11px; }
.msam-controls input[type=range] { width: 120px; }
`;

function injectStyle(doc: Document): void {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.appendChild(style);
}

function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Float32Array;

/** Typed view of the pixel bytes (copied when the buffer offset is not aligned for the type). */
function samplesOf(bytes: Uint8Array, dtype: PixelDtype): Samples {
  const Ctor = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array }[dtype];
  const size = Ctor.BYTES_PER_ELEMENT;
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new Ctor(src.buffer as ArrayBuffer, src.byteOffset, Math.floor(src.byteLength / size));
}

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}

interface Drag {
  kind: "box" | "pan" | "right";
  pointerId: number;
  startX: number;
  startY: number;
  lastX: number;
  lastY: number;
  moved: boolean;
  shift: boolean;
}

/** Screen distance (CSS px) under which a press-release is a click, and within which a click hits a prompt. */
const CLICK_SLOP = 4;
const HIT_RADIUS = 7;
const SLICE_DEBOUNCE_MS = 120;
const PENDING_TIMEOUT_MS = 30_000;

export function render({ model, el: host }: RenderArgs): () => void {
  const doc = host.ownerDocument;
  injectStyle(doc);
  const get = <K extends keyof SegmentCanvasState>(key: K) => model.get(key) as SegmentCanvasState[K];

  // ---- DOM ------------------------------------------------------------------------------------
  const root = el(doc, "div", { class: "msam-root", tabindex: "0", "data-testid": "segment-canvas", "data-lm-suppress-shortcuts": "true", role: "application", "aria-label": "segmentation canvas" });
  const title = el(doc, "div", { class: "msam-title", "data-testid": "title" });
  const toolbar = el(doc, "div", { class: "msam-toolbar" });
  const button = (id: string, label: string, tip: string) => {
    const b = el(doc, "button", { type: "button", "data-testid": id, title: tip, tabindex: "-1" }, label);
    toolbar.appendChild(b);
    return b;
  };
  const modeBtn = button("mode", "", "click mode: T toggles; Shift+click or right click is always negative");
  const segmentBtn = button("segment", "Segment (S)", "segment now");
  const commitBtn = button("commit", "Commit (C)", "commit the current object as a new label");
  const clearBtn = button("clear", "Clear (⇧C)", "clear the current object's prompts and mask");
  const undoBtn = button("undo", "Undo", "Ctrl+Z");
  const redoBtn = button("redo", "Redo", "Ctrl+Shift+Z");
  const propagateBtn = button("propagate", "Propagate (⇧S)", "propagate the current object through the volume");
  const resetBtn = button("reset-view", "Reset view (R)", "fit the image");
  const busy = el(doc, "span", { class: "msam-busy", "data-testid": "busy", role: "status", "aria-label": "working" });
  toolbar.appendChild(busy);

  const stage = el(doc, "div", { class: "msam-stage" });
  const canvas = el(doc, "canvas", { "data-testid": "canvas" });
  stage.appendChild(canvas);
  const orient = {
    left: el(doc, "div", { class: "msam-orient", style: "left:4px;top:50%" }),
    top: el(doc, "div", { class: "msam-orient", style: "left:50%;top:2px" }),
  };
  stage.append(orient.left, orient.top);

  const controls = el(doc, "div", { class: "msam-controls" });
  const range = (id: string, label: string) => {
    const wrap = el(doc, "label", {}, `${label} `);
    const input = el(doc, "input", { type: "range", "data-testid": id, step: "any" });
    wrap.appendChild(input);
    controls.appendChild(wrap);
    return { wrap, input };
  };
  const sliceCtl = range("slice", "slice");
  sliceCtl.input.step = "1";
  const sliceLabel = el(doc, "span", { "data-testid": "slice-label" });
  sliceCtl.wrap.appendChild(sliceLabel);
  const levelCtl = range("level", "level");
  const widthCtl = range("width", "width");
  const preset = el(doc, "select", { "data-testid": "preset", title: "window presets" });
  controls.appendChild(preset);
  const opacityCtl = range("opacity", "opacity");
  opacityCtl.input.min = "0";
  opacityCtl.input.max = "1";
  opacityCtl.input.step = "0.05";
  const outlineWrap = el(doc, "label", {}, " outline only");
  const outlineBox = el(doc, "input", { type: "checkbox", "data-testid": "outline" });
  outlineWrap.prepend(outlineBox);
  controls.appendChild(outlineWrap);

  const status = el(doc, "div", { class: "msam-status" });
  const cursorOut = el(doc, "span", { "data-testid": "cursor" });
  const statusOut = el(doc, "span", { "data-testid": "status" });
  const noticeOut = el(doc, "span", { class: "msam-notice", "data-testid": "notice" });
  status.append(cursorOut, statusOut, noticeOut);
  const errorBox = el(doc, "div", { class: "msam-error", "data-testid": "error", role: "alert" });
  const errorText = el(doc, "span");
  const errorClose = el(doc, "button", { type: "button", title: "dismiss", tabindex: "-1" }, "×");
  errorBox.append(errorText, errorClose);
  const objectsList = el(doc, "ul", { class: "msam-objects", "data-testid": "objects" });
  const help = el(
    doc,
    "div",
    { class: "msam-help" },
    "click: point · Shift/right click: negative · T: toggle · drag: box · click a prompt: delete · Backspace: remove last · S: segment · C: commit · Shift+C: clear · Ctrl+Z / Ctrl+Shift+Z: undo/redo · ↑↓: slice · wheel: zoom · middle/Ctrl drag: pan · right drag: window/level · R: reset view · Esc: leave",
  );
  root.append(title, toolbar, stage, controls, status, errorBox, objectsList, help);
  host.appendChild(root);

  // ---- local state ------------------------------------------------------------------------------
  const client = `v${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
  let seq = 0;
  /** Actions sent and not yet acknowledged (the busy indicator). */
  const pending = new Set<number>();
  /** When each recent action was sent, until the mask answering it is drawn (latency). */
  const sentAt = new Map<number, { t0: number; type: Action["type"] }>();
  let positiveMode = true;
  let win: WindowLevel = { ...get("window") };
  let opacity = 0.5;
  let outlineOnly = false;
  let slice = get("slice");
  let sliceTimer: ReturnType<typeof setTimeout> | undefined;
  let view = { scale: 1, ox: 0, oy: 0 };
  let fitted = false;
  let drag: Drag | undefined;
  let hover: { x: number; y: number } | undefined;
  let dismissedError = -1;

  let width = get("width");
  let height = get("height");
  let depth = get("depth");
  let channels = get("channels");
  let aspect = get("pixel_aspect") || 1;
  let samples: Samples = new Uint8Array(0);
  let labels: SliceStack | undefined;
  let current: SliceStack | undefined;
  const labelCache = new Map<number, Uint16Array>();
  const currentCache = new Map<number, Uint8Array>();

  const offscreen = doc.createElement("canvas");
  let baseKey = "";
  let base: ImageData | undefined;
  let composite: ImageData | undefined;
  let compositeDirty = true;
  let frame = 0;

  function readGeometry(): void {
    width = get("width");
    height = get("height");
    depth = get("depth");
    channels = get("channels");
    aspect = get("pixel_aspect") || 1;
    const bytes = bytesOf(model.get("pixels"));
    samples = bytes ? samplesOf(bytes, get("dtype")) : new Uint8Array(0);
    offscreen.width = width;
    offscreen.height = height;
    baseKey = "";
    fitted = false;
  }

  function readStack(key: "labels" | "current"): SliceStack | undefined {
    const bytes = bytesOf(model.get(key));
    if (!bytes) return undefined;
    try {
      return decodeStack(bytes, { width, height, depth });
    } catch (err) {
      showError(`could not read '${key}' from the kernel: ${(err as Error).message}`);
      return undefined;
    }
  }

  function labelSlice(z: number): Uint16Array | undefined {
    const rle = labels?.slices.get(z);
    if (!rle) return undefined;
    let s = labelCache.get(z);
    if (!s) {
      s = decodeRle(rle, width * height, new Uint16Array(width * height));
      labelCache.set(z, s);
    }
    return s;
  }

  function currentSlice(z: number): Uint8Array | undefined {
    const rle = current?.slices.get(z);
    if (!rle) return undefined;
    let s = currentCache.get(z);
    if (!s) {
      s = decodeRle(rle, width * height);
      currentCache.set(z, s);
    }
    return s;
  }

  // ---- drawing ------------------------------------------------------------------------------------
  function baseImage(): ImageData {
    const key = `${slice}|${win.level}|${win.width}|${width}x${height}`;
    if (base && key === baseKey) return base;
    const img = new ImageData(width, height);
    const out = img.data;
    const { low, scale } = windowRange(win);
    const n = width * height;
    const offset = slice * n * channels;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        const v = samples[offset + i * channels + (channels === 1 ? 0 : c)]!;
        let g = (v - low) * scale;
        g = g !== g ? 0 : g < 0 ? 0 : g > 255 ? 255 : g;
        out[4 * i + c] = g;
      }
      out[4 * i + 3] = 255;
    }
    base = img;
    baseKey = key;
    compositeDirty = true;
    return img;
  }

  function blend(out: Uint8ClampedArray, i: number, colour: readonly number[], a: number): void {
    const p = 4 * i;
    out[p] = Math.round(out[p]! * (1 - a) + colour[0]! * a);
    out[p + 1] = Math.round(out[p + 1]! * (1 - a) + colour[1]! * a);
    out[p + 2] = Math.round(out[p + 2]! * (1 - a) + colour[2]! * a);
  }

  function compose(): ImageData {
    const b = baseImage();
    if (composite && !compositeDirty) return composite;
    const img = new ImageData(new Uint8ClampedArray(b.data), width, height);
    const out = img.data;
    const palette = get("palette");
    const lab = labelSlice(slice);
    const cur = currentSlice(slice);
    const edge = (m: ArrayLike<number>, i: number, x: number, y: number): boolean => {
      const v = m[i];
      return x === 0 || y === 0 || x === width - 1 || y === height - 1 || m[i - 1] !== v || m[i + 1] !== v || m[i - width] !== v || m[i + width] !== v;
    };
    if (lab) {
      for (let y = 0, i = 0; y < height; y++) {
        for (let x = 0; x < width; x++, i++) {
          const v = lab[i]!;
          if (!v) continue;
          const isEdge = edge(lab, i, x, y);
          if (outlineOnly && !isEdge) continue;
          blend(out, i, labelColour(palette, v), isEdge ? 1 : opacity);
        }
      }
    }
    if (cur) {
      const hl = get("highlight");
      for (let y = 0, i = 0; y < height; y++) {
        for (let x = 0; x < width; x++, i++) {
          if (!cur[i]) continue;
          const isEdge = edge(cur, i, x, y);
          if (outlineOnly && !isEdge) continue;
          blend(out, i, hl, isEdge ? 1 : opacity);
        }
      }
    }
    composite = img;
    compositeDirty = false;
    offscreen.getContext("2d")!.putImageData(img, 0, 0);
    return img;
  }

  function stageSize(): { w: number; h: number } {
    const w = Math.max(stage.clientWidth, 100);
    return { w, h: Math.max(stage.clientHeight, 100) };
  }

  function fit(): void {
    const { w, h } = stageSize();
    const scale = Math.min(w / width, h / (height * aspect));
    view = { scale, ox: (w - width * scale) / 2, oy: (h - height * aspect * scale) / 2 };
    fitted = true;
  }

  function toImage(clientX: number, clientY: number): { x: number; y: number; fx: number; fy: number } {
    const r = canvas.getBoundingClientRect();
    const fx = (clientX - r.left - view.ox) / view.scale;
    const fy = (clientY - r.top - view.oy) / (view.scale * aspect);
    return { x: Math.floor(fx), y: Math.floor(fy), fx, fy };
  }

  function toScreen(x: number, y: number): { sx: number; sy: number } {
    return { sx: view.ox + (x + 0.5) * view.scale, sy: view.oy + (y + 0.5) * view.scale * aspect };
  }

  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height;

  function draw(): void {
    frame = 0;
    if (!width || !height || samples.length === 0) return;
    const { w, h } = stageSize();
    const dpr = (doc.defaultView?.devicePixelRatio ?? 1) || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    if (!fitted) fit();
    compose();
    const ctx = canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, w, h);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(offscreen, view.ox, view.oy, width * view.scale, height * view.scale * aspect);
    drawPrompts(ctx);
    if (drag?.kind === "box" && drag.moved) {
      ctx.strokeStyle = "#00e5ff";
      ctx.setLineDash([5, 3]);
      ctx.lineWidth = 1.5;
      const r = canvas.getBoundingClientRect();
      ctx.strokeRect(drag.startX - r.left, drag.startY - r.top, drag.lastX - drag.startX, drag.lastY - drag.startY);
      ctx.setLineDash([]);
    }
    // What tests (and curious users) need to map image pixels to the screen.
    canvas.dataset.scale = String(view.scale);
    canvas.dataset.offsetX = String(view.ox);
    canvas.dataset.offsetY = String(view.oy);
    canvas.dataset.aspect = String(aspect);
    canvas.dataset.slice = String(slice);
  }

  function drawPrompts(ctx: CanvasRenderingContext2D): void {
    const prompts = get("prompts");
    for (const b of prompts.boxes) {
      if (b.z !== slice) continue;
      const p0 = toScreen(b.x0 - 0.5, b.y0 - 0.5);
      const p1 = toScreen(b.x1 + 0.5, b.y1 + 0.5);
      ctx.strokeStyle = "#00e5ff";
      ctx.lineWidth = 2;
      ctx.strokeRect(p0.sx, p0.sy, p1.sx - p0.sx, p1.sy - p0.sy);
    }
    for (const p of prompts.points) {
      if (p.z !== slice) continue;
      const { sx, sy } = toScreen(p.x, p.y);
      ctx.beginPath();
      ctx.arc(sx, sy, 5, 0, 2 * Math.PI);
      ctx.fillStyle = p.positive ? "#00c853" : "#d50000";
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "white";
      ctx.stroke();
    }
  }

  function schedule(): void {
    if (frame) return;
    const win_ = doc.defaultView;
    frame = win_ ? win_.requestAnimationFrame(draw) : (setTimeout(draw, 16) as unknown as number);
  }

  function refresh(): void {
    compositeDirty = true;
    schedule();
  }

  // ---- the rest of the UI ---------------------------------------------------------------------------
  function updateMode(): void {
    modeBtn.textContent = positiveMode ? "+ positive (T)" : "− negative (T)";
    modeBtn.setAttribute("aria-pressed", String(!positiveMode));
    root.dataset.mode = positiveMode ? "positive" : "negative";
  }

  function updateSliceUi(): void {
    sliceCtl.wrap.hidden = depth <= 1;
    sliceCtl.input.min = "0";
    sliceCtl.input.max = String(Math.max(depth - 1, 0));
    sliceCtl.input.value = String(slice);
    sliceLabel.textContent = `${slice + 1} / ${depth}`;
    propagateBtn.hidden = depth <= 1;
  }

  function updateWindowUi(): void {
    const [lo, hi] = get("value_range");
    const span = Math.max(hi - lo, 1e-6);
    levelCtl.input.min = String(lo - span / 2);
    levelCtl.input.max = String(hi + span / 2);
    widthCtl.input.min = String(span / 1000);
    widthCtl.input.max = String(span * 2);
    levelCtl.input.value = String(win.level);
    widthCtl.input.value = String(win.width);
    const match = get("window_presets").find((p) => Math.abs(p.level - win.level) < 1e-9 && Math.abs(p.width - win.width) < 1e-9);
    preset.value = match ? match.name : "";
  }

  function fillPresets(): void {
    preset.replaceChildren(el(doc, "option", { value: "" }, "window…"));
    for (const p of get("window_presets") as NamedWindow[]) {
      preset.appendChild(el(doc, "option", { value: p.name }, `${p.name} (${formatValue(p.level)}/${formatValue(p.width)})`));
    }
  }

  function updateButtons(): void {
    undoBtn.disabled = !get("can_undo");
    redoBtn.disabled = !get("can_redo");
    propagateBtn.disabled = !get("can_propagate");
    const hasCurrent = (current?.slices.size ?? 0) > 0;
    commitBtn.disabled = !hasCurrent;
  }

  function updateBusy(): void {
    // An action the kernel never acknowledges (kernel restarted or died) must not spin forever;
    // long work (embedding, propagation) keeps the indicator on through the kernel's status.
    const now = performance.now();
    for (const n of [...pending]) if (now - (sentAt.get(n)?.t0 ?? 0) > PENDING_TIMEOUT_MS) pending.delete(n);
    const s = get("status");
    const isBusy = s !== "ready" || pending.size > 0;
    busy.hidden = !isBusy;
    root.dataset.busy = String(isBusy);
    root.dataset.status = s;
    const text = get("status_text");
    statusOut.textContent = text || (s === "ready" ? "" : s);
  }

  function showError(text: string): void {
    errorText.textContent = text;
    errorBox.hidden = text === "";
    root.dataset.error = text;
  }

  function updateError(): void {
    const text = get("error");
    const n = get("error_seq");
    showError(n === dismissedError ? "" : text);
  }

  function updateObjects(): void {
    const palette = get("palette");
    objectsList.replaceChildren();
    for (const o of get("objects") as ObjectSummary[]) {
      const li = el(doc, "li", { "data-label": String(o.label) });
      const [r, g, b] = labelColour(palette, o.label);
      li.append(el(doc, "span", { class: "msam-swatch", style: `background: rgb(${r},${g},${b})` }), el(doc, "span", {}, `${o.label} · ${o.voxels} px`));
      const del = el(doc, "button", { type: "button", title: `remove object ${o.label}`, tabindex: "-1", "data-testid": `remove-${o.label}` }, "×");
      del.addEventListener("click", () => act({ type: "remove_object", label: o.label }));
      li.appendChild(del);
      objectsList.appendChild(li);
    }
  }

  function updateOrientation(): void {
    const o = get("orientation");
    orient.left.textContent = o ? o.left : "";
    orient.top.textContent = o ? o.top : "";
  }

  function updateHeader(): void {
    title.textContent = get("title");
    title.hidden = !get("title");
    noticeOut.textContent = get("notice");
  }

  // ---- talking to the kernel ---------------------------------------------------------------------------
  function act(action: Action): void {
    const n = ++seq;
    pending.add(n);
    sentAt.set(n, { t0: performance.now(), type: action.type });
    // Actions that never change the mask (errors, no-ops) must not pile up.
    for (const k of sentAt.keys()) if (k < n - 100 && !pending.has(k)) sentAt.delete(k);
    model.send({ kind: "action", client, seq: n, action });
    updateBusy();
  }

  function setSlice(z: number): void {
    const next = Math.max(0, Math.min(depth - 1, Math.round(z)));
    if (next === slice) return;
    slice = next;
    updateSliceUi();
    refresh();
    updateCursor();
    if (sliceTimer) clearTimeout(sliceTimer);
    // The kernel only needs the slice to embed ahead; scrolling sends one update, not one per step.
    sliceTimer = setTimeout(() => {
      sliceTimer = undefined;
      model.set("slice", slice);
      model.save_changes();
    }, SLICE_DEBOUNCE_MS);
  }

  function updateCursor(): void {
    if (!hover || !inside(hover.x, hover.y)) {
      cursorOut.textContent = "";
      return;
    }
    const i = (slice * width * height + hover.y * width + hover.x) * channels;
    const value = channels === 1 ? formatValue(samples[i]!) : [0, 1, 2].map((c) => formatValue(samples[i + c]!)).join(", ");
    const lab = labelSlice(slice)?.[hover.y * width + hover.x] ?? 0;
    cursorOut.textContent = `x ${hover.x}  y ${hover.y}${depth > 1 ? `  z ${slice}` : ""}  value ${value}${lab ? `  label ${lab}` : ""}`;
  }

  // ---- input ---------------------------------------------------------------------------------------------
  function hitPrompt(clientX: number, clientY: number): number | undefined {
    const r = canvas.getBoundingClientRect();
    const sx = clientX - r.left;
    const sy = clientY - r.top;
    const prompts: WirePrompts = get("prompts");
    let best: { id: number; d: number } | undefined;
    for (const p of prompts.points) {
      if (p.z !== slice) continue;
      const s = toScreen(p.x, p.y);
      const d = Math.hypot(s.sx - sx, s.sy - sy);
      if (d <= HIT_RADIUS && (!best || d < best.d)) best = { id: p.id, d };
    }
    if (best) return best.id;
    for (const b of prompts.boxes) {
      if (b.z !== slice) continue;
      const p0 = toScreen(b.x0 - 0.5, b.y0 - 0.5);
      const p1 = toScreen(b.x1 + 0.5, b.y1 + 0.5);
      const nearX = sx >= p0.sx - HIT_RADIUS && sx <= p1.sx + HIT_RADIUS;
      const nearY = sy >= p0.sy - HIT_RADIUS && sy <= p1.sy + HIT_RADIUS;
      const onEdge =
        (nearY && (Math.abs(sx - p0.sx) <= HIT_RADIUS || Math.abs(sx - p1.sx) <= HIT_RADIUS)) ||
        (nearX && (Math.abs(sy - p0.sy) <= HIT_RADIUS || Math.abs(sy - p1.sy) <= HIT_RADIUS));
      if (onEdge) return b.id;
    }
    return undefined;
  }

  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));

  function onPointerDown(e: PointerEvent): void {
    root.focus({ preventScroll: true });
    const pan = e.button === 1 || (e.button === 0 && (e.ctrlKey || e.metaKey || e.altKey));
    const kind: Drag["kind"] = pan ? "pan" : e.button === 2 ? "right" : "box";
    if (e.button > 2) return;
    drag = { kind, pointerId: e.pointerId, startX: e.clientX, startY: e.clientY, lastX: e.clientX, lastY: e.clientY, moved: false, shift: e.shiftKey };
    canvas.setPointerCapture?.(e.pointerId);
    e.preventDefault();
  }

  function onPointerMove(e: PointerEvent): void {
    const p = toImage(e.clientX, e.clientY);
    hover = { x: p.x, y: p.y };
    updateCursor();
    if (!drag || e.pointerId !== drag.pointerId) return;
    const dx = e.clientX - drag.lastX;
    const dy = e.clientY - drag.lastY;
    drag.lastX = e.clientX;
    drag.lastY = e.clientY;
    if (Math.hypot(e.clientX - drag.startX, e.clientY - drag.startY) > CLICK_SLOP) drag.moved = true;
    if (!drag.moved) return;
    if (drag.kind === "pan") {
      view.ox += dx;
      view.oy += dy;
      schedule();
    } else if (drag.kind === "right") {
      // Right-drag: horizontal = width, vertical = level, as in radiology viewers.
      const [lo, hi] = get("value_range");
      const k = Math.max(hi - lo, 1) / 400;
      win = { level: win.level + dy * k, width: Math.max(win.width + dx * k, 1e-6) };
      updateWindowUi();
      schedule();
    } else {
      schedule();
    }
  }

  function onPointerUp(e: PointerEvent): void {
    if (!drag || e.pointerId !== drag.pointerId) return;
    const d = drag;
    drag = undefined;
    canvas.releasePointerCapture?.(e.pointerId);
    if (d.kind === "pan") return;
    if (d.kind === "right") {
      if (!d.moved) click(e.clientX, e.clientY, false);
      return;
    }
    if (!d.moved) {
      click(e.clientX, e.clientY, positiveMode !== d.shift);
      return;
    }
    const a = toImage(d.startX, d.startY);
    const b = toImage(e.clientX, e.clientY);
    // A box dragged past the edge means "to the edge": the UI clamps; the kernel refuses anything outside.
    const x0 = clamp(Math.min(a.x, b.x), width - 1);
    const x1 = clamp(Math.max(a.x, b.x), width - 1);
    const y0 = clamp(Math.min(a.y, b.y), height - 1);
    const y1 = clamp(Math.max(a.y, b.y), height - 1);
    const off = (a.x < 0 && b.x < 0) || (a.y < 0 && b.y < 0) || (a.x >= width && b.x >= width) || (a.y >= height && b.y >= height);
    schedule();
    if (!off) act({ type: "set_box", x0, y0, x1, y1, z: slice });
  }

  function click(clientX: number, clientY: number, positive: boolean): void {
    const hit = hitPrompt(clientX, clientY);
    if (hit !== undefined) {
      act({ type: "remove_prompt", id: hit });
      return;
    }
    const p = toImage(clientX, clientY);
    if (!inside(p.x, p.y)) return;
    act({ type: "add_point", x: p.x, y: p.y, z: slice, positive });
  }

  function zoomAt(sx: number, sy: number, factor: number): void {
    const scale = Math.max(0.05, Math.min(64, view.scale * factor));
    const f = scale / view.scale;
    view = { scale, ox: sx - (sx - view.ox) * f, oy: sy - (sy - view.oy) * f };
    schedule();
  }

  function onWheel(e: WheelEvent): void {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoomAt(e.clientX - r.left, e.clientY - r.top, Math.pow(1.0015, -e.deltaY));
  }

  function onKeyDown(e: KeyboardEvent): void {
    // Nothing typed here reaches Jupyter's shortcuts (a, b, dd, Shift+Enter...).
    e.stopPropagation();
    const target = e.target as HTMLElement | null;
    if (e.key === "Escape") {
      root.blur();
      e.preventDefault();
      return;
    }
    // A focused slider or select keeps its own navigation keys; letters stay shortcuts.
    const navigation = /^(Arrow|Page|Home$|End$|Tab$|Enter$| $)/.test(e.key);
    if (target && target !== root && (target.tagName === "INPUT" || target.tagName === "SELECT") && navigation) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const mod = e.ctrlKey || e.metaKey;
    let handled = true;
    if (mod && key === "z") act({ type: e.shiftKey ? "redo" : "undo" });
    else if (mod && key === "y") act({ type: "redo" });
    else if (mod) handled = false;
    else if (key === "t") {
      positiveMode = !positiveMode;
      updateMode();
    } else if (key === "s") act({ type: e.shiftKey ? "propagate" : "segment" });
    else if (key === "c") act({ type: e.shiftKey ? "clear" : "commit" });
    else if (key === "Backspace" || key === "Delete") act({ type: "remove_last" });
    else if (key === "ArrowUp" || key === "ArrowRight") setSlice(slice + 1);
    else if (key === "ArrowDown" || key === "ArrowLeft") setSlice(slice - 1);
    else if (key === "PageUp") setSlice(slice + 10);
    else if (key === "PageDown") setSlice(slice - 10);
    else if (key === "Home") setSlice(0);
    else if (key === "End") setSlice(depth - 1);
    else if (key === "r") {
      fit();
      schedule();
    } else if (key === "o") {
      outlineOnly = !outlineOnly;
      outlineBox.checked = outlineOnly;
      refresh();
    } else if (key === "+" || key === "=") zoomAt(stageSize().w / 2, stageSize().h / 2, 1.25);
    else if (key === "-") zoomAt(stageSize().w / 2, stageSize().h / 2, 0.8);
    else handled = false;
    if (handled) e.preventDefault();
  }

  const stop = (e: Event) => e.stopPropagation();
  const noMenu = (e: Event) => e.preventDefault();
  const onLeave = () => {
    hover = undefined;
    updateCursor();
  };

  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("pointerleave", onLeave);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("contextmenu", noMenu);
  root.addEventListener("keydown", onKeyDown);
  root.addEventListener("keyup", stop);
  root.addEventListener("keypress", stop);

  modeBtn.addEventListener("click", () => {
    positiveMode = !positiveMode;
    updateMode();
  });
  segmentBtn.addEventListener("click", () => act({ type: "segment" }));
  commitBtn.addEventListener("click", () => act({ type: "commit" }));
  clearBtn.addEventListener("click", () => act({ type: "clear" }));
  undoBtn.addEventListener("click", () => act({ type: "undo" }));
  redoBtn.addEventListener("click", () => act({ type: "redo" }));
  propagateBtn.addEventListener("click", () => act({ type: "propagate" }));
  resetBtn.addEventListener("click", () => {
    fit();
    schedule();
  });
  errorClose.addEventListener("click", () => {
    dismissedError = get("error_seq");
    updateError();
  });
  sliceCtl.input.addEventListener("input", () => setSlice(Number(sliceCtl.input.value)));
  levelCtl.input.addEventListener("input", () => {
    win = { ...win, level: Number(levelCtl.input.value) };
    updateWindowUi();
    schedule();
  });
  widthCtl.input.addEventListener("input", () => {
    win = { ...win, width: Math.max(Number(widthCtl.input.value), 1e-6) };
    updateWindowUi();
    schedule();
  });
  preset.addEventListener("change", () => {
    const p = (get("window_presets") as NamedWindow[]).find((q) => q.name === preset.value);
    if (p) {
      win = { level: p.level, width: p.width };
      updateWindowUi();
      schedule();
    }
  });
  opacityCtl.input.value = String(opacity);
  opacityCtl.input.addEventListener("input", () => {
    opacity = Number(opacityCtl.input.value);
    refresh();
  });
  outlineBox.addEventListener("change", () => {
    outlineOnly = outlineBox.checked;
    refresh();
  });

  // ---- model events -------------------------------------------------------------------------------------
  const onGeometry = () => {
    readGeometry();
    labels = readStack("labels");
    current = readStack("current");
    labelCache.clear();
    currentCache.clear();
    updateSliceUi();
    updateWindowUi();
    refresh();
  };
  const onLabels = () => {
    labels = readStack("labels");
    labelCache.clear();
    refresh();
    updateCursor();
  };
  const onCurrent = () => {
    current = readStack("current");
    currentCache.clear();
    compositeDirty = true;
    updateButtons();
    // Draw now (not at the next frame) so the latency measured is what the user sees.
    draw();
    const answered = get("current_for") as ActionRef | null;
    if (answered && answered.client === client) {
      const p = sentAt.get(answered.seq);
      for (const k of [...sentAt.keys()]) if (k <= answered.seq && !pending.has(k)) sentAt.delete(k);
      if (p) {
        const detail: LatencyDetail = { seq: answered.seq, action: p.type, ms: performance.now() - p.t0 };
        root.dataset.lastLatency = String(detail.ms);
        root.dispatchEvent(new CustomEvent<LatencyDetail>("msam-latency", { detail, bubbles: true }));
      }
    }
  };
  const onAck = () => {
    const ack = get("ack") as ActionRef | null;
    if (ack && ack.client === client) for (const n of [...pending]) if (n <= ack.seq) pending.delete(n);
    updateBusy();
  };
  const onSliceFromKernel = () => {
    if (sliceTimer) return;
    const z = get("slice");
    if (z !== slice) {
      slice = z;
      updateSliceUi();
      refresh();
    }
  };
  const onPrompts = () => schedule();
  const onWindow = () => {
    win = { ...get("window") };
    updateWindowUi();
    schedule();
  };
  const listeners: [string, () => void][] = [
    ["change:pixels", onGeometry],
    ["change:labels", onLabels],
    ["change:current", onCurrent],
    ["change:prompts", onPrompts],
    ["change:ack", onAck],
    ["change:status", updateBusy],
    ["change:status_text", updateBusy],
    ["change:error_seq", updateError],
    ["change:error", updateError],
    ["change:objects", updateObjects],
    ["change:can_undo", updateButtons],
    ["change:can_redo", updateButtons],
    ["change:can_propagate", updateButtons],
    ["change:slice", onSliceFromKernel],
    ["change:window", onWindow],
    ["change:window_presets", () => (fillPresets(), updateWindowUi())],
    ["change:title", updateHeader],
    ["change:notice", updateHeader],
    ["change:orientation", updateOrientation],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);

  const pruneTimer = setInterval(() => {
    if (pending.size > 0) updateBusy();
  }, 5000);
  const resize = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => ((fitted = false), schedule())) : undefined;
  resize?.observe(stage);

  onGeometry();
  fillPresets();
  updateWindowUi();
  updateMode();
  updateButtons();
  updateBusy();
  updateError();
  updateObjects();
  updateOrientation();
  updateHeader();
  schedule();

  return () => {
    for (const [event, fn] of listeners) model.off(event, fn);
    resize?.disconnect();
    clearInterval(pruneTimer);
    if (sliceTimer) clearTimeout(sliceTimer);
    if (frame) doc.defaultView?.cancelAnimationFrame(frame);
    root.remove();
  };
}
