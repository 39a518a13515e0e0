/**
 * Pictures side by side with captions: PCA panels of several models, component images, the
 * rounds of the teaching view. Displayed as HTML (each panel a PNG <img> with its caption as
 * text, crisp at any zoom) and as one composite PNG (for front ends that show no HTML; captions
 * are drawn by librsvg with the system's fonts).
 */
import sharp, { type OverlayOptions } from "sharp";
import type { RgbImage8 } from "../io/image.js";
import { legendSvg, type LegendEntry } from "./overlay.js";
import { encodeRgbPng } from "./png.js";
import { DISPLAY, type MimeBundle } from "./plotly.js";

export interface Panel {
  readonly image: RgbImage8;
  /** Shown under the panel; "\n" starts a new line. */
  readonly caption?: string;
}

export interface ImageGridOptions {
  readonly title?: string;
  /** Panels per row (default: all in one row up to 4, then rows of 4). */
  readonly columns?: number;
  /** Width each panel is shown at, in CSS/PNG pixels (default: the image width, at most 320). */
  readonly panelWidth?: number;
  /** Colour key shown after the panels. */
  readonly legend?: readonly LegendEntry[];
  /** Draw the prompt-point key in the legend. */
  readonly pointsLegend?: boolean;
  /** Mime types to emit: both (default), only HTML, or only the PNG. */
  readonly formats?: "both" | "html" | "png";
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const CAPTION_HEIGHT = 22;
/** Each further caption line. */
const CAPTION_LINE = 16;
const GAP = 10;
const TITLE_HEIGHT = 30;

export class ImageGrid {
  readonly panels: readonly Panel[];
  private pngs: Promise<Buffer[]> | undefined;

  constructor(
    panels: readonly Panel[],
    readonly options: ImageGridOptions = {},
  ) {
    if (panels.length === 0) throw new Error("ImageGrid needs at least one panel.");
    this.panels = panels;
    const c = options.columns;
    if (c !== undefined && !(Number.isInteger(c) && c >= 1)) throw new Error(`columns must be a positive integer, got ${c}.`);
  }

  get columns(): number {
    return Math.min(this.panels.length, this.options.columns ?? 4);
  }

  private panelSize(p: Panel): { width: number; height: number } {
    const w = this.options.panelWidth ?? Math.min(320, p.image.width);
    return { width: w, height: Math.round((p.image.height * w) / p.image.width) };
  }

  /** Each panel as PNG bytes, encoded once. */
  panelPngs(): Promise<Buffer[]> {
    this.pngs ??= Promise.all(this.panels.map((p) => encodeRgbPng(p.image)));
    return this.pngs;
  }

  async toHtml(): Promise<string> {
    const pngs = await this.panelPngs();
    const cells = this.panels.map((p, i) => {
      const { width, height } = this.panelSize(p);
      const src = `data:image/png;base64,${pngs[i]!.toString("base64")}`;
      return (
        `<figure style="margin:0;display:inline-block;vertical-align:top;text-align:center">` +
        `<img src="${src}" width="${width}" height="${height}" style="image-rendering:pixelated"/>` +
        (p.caption ? `<figcaption style="font-size:13px;color:#333">${escapeHtml(p.caption).replace(/\n/g, "<br>")}</figcaption>` : "") +
        `</figure>`
      );
    });
    const legend = this.options.legend?.length || this.options.pointsLegend
      ? `<div style="display:flex;flex-wrap:wrap;gap:12px;font-size:13px;margin-top:6px">` +
        (this.options.legend ?? [])
          .map((e) => `<span><span style="display:inline-block;width:14px;height:12px;background:rgb(${e.color.join(",")});margin-right:4px"></span>${escapeHtml(e.name)}</span>`)
          .join("") +
        (this.options.pointsLegend
          ? `<span><b style="color:rgb(0,180,0)">+</b> positive point</span><span><b style="color:rgb(220,0,0)">+</b> negative point</span>`
          : "") +
        `</div>`
      : "";
    return (
      `<div class="medicosam-grid">` +
      (this.options.title ? `<div style="font-weight:bold;margin-bottom:4px">${escapeHtml(this.options.title)}</div>` : "") +
      `<div style="display:grid;grid-template-columns:repeat(${this.columns}, max-content);gap:${GAP}px">${cells.join("")}</div>` +
      legend +
      `</div>`
    );
  }

  /** The whole grid as one PNG (panels, captions, title, legend). */
  async toPng(): Promise<Buffer> {
    const pngs = await this.panelPngs();
    const cols = this.columns;
    const rows = Math.ceil(this.panels.length / cols);
    const sizes = this.panels.map((p) => this.panelSize(p));
    const colWidth = Array.from({ length: cols }, (_, c) => Math.max(...sizes.filter((_, i) => i % cols === c).map((s) => s.width)));
    const captionLines = Math.max(0, ...this.panels.map((p) => (p.caption ? p.caption.split("\n").length : 0)));
    const captionHeight = captionLines === 0 ? 0 : CAPTION_HEIGHT + (captionLines - 1) * CAPTION_LINE;
    const rowHeight = Array.from({ length: rows }, (_, r) =>
      Math.max(...sizes.slice(r * cols, (r + 1) * cols).map((s) => s.height)) + captionHeight,
    );
    const top = this.options.title ? TITLE_HEIGHT : 0;
    let legendPng: Buffer | undefined;
    let legendSize = { width: 0, height: 0 };
    if (this.options.legend?.length || this.options.pointsLegend) {
      legendPng = await sharp(Buffer.from(legendSvg(this.options.legend ?? [], { points: this.options.pointsLegend }))).png().toBuffer();
      const m = await sharp(legendPng).metadata();
      legendSize = { width: m.width ?? 0, height: m.height ?? 0 };
    }
    const gridWidth = colWidth.reduce((a, b) => a + b, 0) + GAP * (cols + 1);
    // Wide enough for the title (about 9.5 px per character of 16 px bold DejaVu Sans).
    const titleWidth = this.options.title ? Math.ceil(this.options.title.length * 9.5) + 2 * GAP : 0;
    const width = Math.max(gridWidth + legendSize.width, titleWidth);
    const height = Math.max(top + rowHeight.reduce((a, b) => a + b, 0) + GAP * (rows + 1), legendSize.height + top);
    const font = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`;
    const texts: string[] = [];
    if (this.options.title) texts.push(`<text x="${GAP}" y="21" font-size="16" font-weight="bold" ${font} fill="#222">${escapeHtml(this.options.title)}</text>`);
    const composites: OverlayOptions[] = [];
    for (let i = 0; i < this.panels.length; i++) {
      const r = Math.floor(i / cols);
      const c = i % cols;
      const x = GAP + colWidth.slice(0, c).reduce((a, b) => a + b, 0) + GAP * c;
      const y = top + GAP + rowHeight.slice(0, r).reduce((a, b) => a + b, 0) + GAP * r;
      const s = sizes[i]!;
      const p = this.panels[i]!;
      const input =
        s.width === p.image.width ? pngs[i]! : await sharp(pngs[i]!).resize(s.width, s.height, { kernel: s.width > p.image.width ? "nearest" : "lanczos3" }).png().toBuffer();
      composites.push({ input, left: x, top: y });
      p.caption?.split("\n").forEach((line, k) => {
        const ly = y + s.height + 16 + k * CAPTION_LINE;
        texts.push(`<text x="${x + s.width / 2}" y="${ly}" text-anchor="middle" font-size="13" ${font} fill="#333">${escapeHtml(line)}</text>`);
      });
    }
    if (texts.length) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join("")}</svg>`;
      composites.push({ input: Buffer.from(svg), left: 0, top: 0 });
    }
    if (legendPng) composites.push({ input: legendPng, left: gridWidth, top });
    return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .composite(composites)
      .png()
      .toBuffer();
  }

  async [DISPLAY](): Promise<MimeBundle> {
    const formats = this.options.formats ?? "both";
    if (formats !== "both" && formats !== "html" && formats !== "png") {
      throw new Error(`formats must be 'both', 'html' or 'png', got '${String(formats)}'.`);
    }
    const bundle: MimeBundle = {
      "text/plain": `<${this.panels.length} picture(s)${this.options.title ? `: ${this.options.title}` : ""}>`,
    };
    if (formats !== "png") bundle["text/html"] = await this.toHtml();
    if (formats !== "html") bundle["image/png"] = (await this.toPng()).toString("base64");
    return bundle;
  }
}
