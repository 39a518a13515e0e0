/**
 * Drawing one view: the composed slice (compose.ts) scaled onto the stage through the
 * viewport, then the prompts and the rubber-band box in screen space. Draws at most once per
 * animation frame; the windowed slice and the composed overlay are cached until what they
 * depend on changes.
 */
import type { DirtyRect } from "../common/brush.js";
import { labelColour } from "../common/state.js";
import { composeSlice, hideLabels, windowedSlice } from "./compose.js";
import type { CanvasContext } from "./context.js";
import { toScreen } from "./viewport.js";

export class Painter {
  private readonly offscreen: HTMLCanvasElement;
  private baseKey = "";
  private base: Uint8ClampedArray | undefined;
  private composed = false;
  private frame = 0;
  /** The stroke being drawn, as an image-size layer: only the pixels a stamp touched are written. */
  private readonly strokeCanvas: HTMLCanvasElement;
  private strokeLayer: ImageData | undefined;

  constructor(private readonly ctx: CanvasContext) {
    this.offscreen = ctx.doc.createElement("canvas");
    this.strokeCanvas = ctx.doc.createElement("canvas");
  }

  /** A stroke starts: a clear layer of the image's size. */
  beginStroke(): void {
    const { width, height } = this.ctx.image;
    this.strokeCanvas.width = width;
    this.strokeCanvas.height = height;
    this.strokeLayer = new ImageData(width, height);
  }

  /**
   * The stroke's mask grew inside `rect`: those layer pixels take the brush colour (paint) or
   * the image without overlays (erase), and only that rectangle is uploaded. Keeps a frame of a
   * stroke on a 512x512 slice to a few milliseconds.
   */
  strokeChanged(rect: DirtyRect): void {
    const stroke = this.ctx.local.stroke;
    const layer = this.strokeLayer;
    if (!stroke || !layer) return;
    const { width } = this.ctx.image;
    const colour = stroke.target === 0 ? this.ctx.get("highlight") : labelColour(this.ctx.get("palette"), stroke.target);
    const base = stroke.erase ? this.windowed() : undefined;
    const d = layer.data;
    for (let y = rect.y; y < rect.y + rect.h; y++) {
      for (let x = rect.x, i = y * width + rect.x; x < rect.x + rect.w; x++, i++) {
        if (!stroke.mask[i] || d[4 * i + 3]) continue;
        const p = 4 * i;
        if (base) {
          d[p] = base[p]!;
          d[p + 1] = base[p + 1]!;
          d[p + 2] = base[p + 2]!;
          d[p + 3] = 255;
        } else {
          d[p] = colour[0]!;
          d[p + 1] = colour[1]!;
          d[p + 2] = colour[2]!;
          d[p + 3] = 160;
        }
      }
    }
    this.strokeCanvas.getContext("2d")!.putImageData(layer, 0, 0, rect.x, rect.y, rect.w, rect.h);
  }

  endStroke(): void {
    this.strokeLayer = undefined;
  }

  /** New pixels or size: everything cached is stale, and the view is fitted again. */
  resize(width: number, height: number): void {
    this.offscreen.width = width;
    this.offscreen.height = height;
    this.baseKey = "";
    this.ctx.local.fitted = false;
  }

  /** Labels, current mask, opacity or outline changed: compose again at the next draw. */
  invalidate(): void {
    this.composed = false;
  }

  schedule(): void {
    if (this.frame) return;
    const win = this.ctx.doc.defaultView;
    this.frame = win ? win.requestAnimationFrame(() => this.draw()) : (setTimeout(() => this.draw(), 16) as unknown as number);
  }

  cancel(): void {
    if (this.frame) this.ctx.doc.defaultView?.cancelAnimationFrame(this.frame);
  }

  /** Draws now (a pending frame then finds nothing to do twice). */
  draw(): void {
    const t0 = performance.now();
    this.frame = 0;
    const { image, local, dom } = this.ctx;
    const { width, height, aspect } = image;
    if (!width || !height || image.samples.length === 0) return;
    const { w, h } = this.ctx.stageSize();
    const canvas = dom.canvas;
    const dpr = (this.ctx.doc.defaultView?.devicePixelRatio ?? 1) || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    if (!local.fitted) this.ctx.fit();
    this.compose();
    const g = canvas.getContext("2d")!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#111";
    g.fillRect(0, 0, w, h);
    g.imageSmoothingEnabled = false;
    const view = local.view;
    g.drawImage(this.offscreen, view.ox, view.oy, width * view.scale, height * view.scale * aspect);
    const stroke = local.stroke;
    if (stroke && stroke.z === local.slice) g.drawImage(this.strokeCanvas, view.ox, view.oy, width * view.scale, height * view.scale * aspect);
    this.drawPrompts(g);
    this.drawBrushCursor(g);
    const drag = local.drag;
    if (drag?.kind === "box" && drag.moved) {
      g.strokeStyle = "#00e5ff";
      g.setLineDash([5, 3]);
      g.lineWidth = 1.5;
      const r = canvas.getBoundingClientRect();
      g.strokeRect(drag.startX - r.left, drag.startY - r.top, drag.lastX - drag.startX, drag.lastY - drag.startY);
      g.setLineDash([]);
    }
    // What tests (and curious users) need to map image pixels to the screen.
    canvas.dataset.scale = String(view.scale);
    canvas.dataset.offsetX = String(view.ox);
    canvas.dataset.offsetY = String(view.oy);
    canvas.dataset.aspect = String(aspect);
    canvas.dataset.slice = String(local.slice);
    if (stroke) {
      // A frame of painting: the stamps since the last frame plus this draw (the 16 ms budget of 60 fps).
      stroke.frames.push(stroke.workMs + performance.now() - t0);
      stroke.workMs = 0;
    }
  }

  /** The brush's outline under the pointer, at its size on screen. */
  private drawBrushCursor(g: CanvasRenderingContext2D): void {
    const { local, image } = this.ctx;
    if (local.tool === "prompt" || !local.hover) return;
    const { sx, sy } = toScreen(local.view, image.aspect, local.hover.fx, local.hover.fy);
    g.beginPath();
    g.ellipse(sx, sy, local.brushRadius * local.view.scale, local.brushRadius * local.view.scale * image.aspect, 0, 0, 2 * Math.PI);
    g.lineWidth = 1.5;
    g.strokeStyle = local.tool === "eraser" ? "#ff5252" : "#ffd600";
    g.setLineDash(local.tool === "eraser" ? [4, 3] : []);
    g.stroke();
    g.setLineDash([]);
  }

  private windowed(): Uint8ClampedArray {
    const { image, local } = this.ctx;
    const key = `${local.slice}|${local.win.level}|${local.win.width}|${image.width}x${image.height}`;
    if (this.base && key === this.baseKey) return this.base;
    const base = windowedSlice(image.samples, image, local.slice, local.win);
    this.base = base;
    this.baseKey = key;
    this.composed = false;
    return base;
  }

  private compose(): void {
    const base = this.windowed();
    if (this.composed) return;
    const { image, local } = this.ctx;
    const img = new ImageData(image.width, image.height);
    composeSlice(img.data, base, image.width, image.height, {
      labels: hideLabels(this.ctx.labelSlice(local.slice), local.hidden),
      current: this.ctx.currentSlice(local.slice),
      palette: this.ctx.get("palette"),
      highlight: this.ctx.get("highlight"),
      opacity: local.opacity,
      outlineOnly: local.outlineOnly,
    });
    this.ctx.proposals.paint(img.data, local.slice, this.ctx.get("palette"));
    this.offscreen.getContext("2d")!.putImageData(img, 0, 0);
    this.composed = true;
  }

  private drawPrompts(g: CanvasRenderingContext2D): void {
    const { local, image } = this.ctx;
    const prompts = this.ctx.get("prompts");
    for (const b of prompts.boxes) {
      if (b.z !== local.slice) continue;
      const p0 = toScreen(local.view, image.aspect, b.x0 - 0.5, b.y0 - 0.5);
      const p1 = toScreen(local.view, image.aspect, b.x1 + 0.5, b.y1 + 0.5);
      g.strokeStyle = "#00e5ff";
      g.lineWidth = 2;
      g.strokeRect(p0.sx, p0.sy, p1.sx - p0.sx, p1.sy - p0.sy);
    }
    for (const p of prompts.points) {
      if (p.z !== local.slice) continue;
      const { sx, sy } = toScreen(local.view, image.aspect, p.x, p.y);
      g.beginPath();
      g.arc(sx, sy, 5, 0, 2 * Math.PI);
      g.fillStyle = p.positive ? "#00c853" : "#d50000";
      g.fill();
      g.lineWidth = 1.5;
      g.strokeStyle = "white";
      g.stroke();
    }
  }
}
