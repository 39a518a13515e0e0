/**
 * The controls around the image, filled from the model and the view's own state: mode button,
 * slice and window sliders, presets, undo/redo/commit buttons, busy spinner and status line,
 * the error bar, the objects list, orientation letters, title, cursor readout.
 */
import type { NamedWindow, ObjectSummary } from "../common/state.js";
import { labelColour } from "../common/state.js";
import { cursorText, formatValue } from "./compose.js";
import type { CanvasContext } from "./context.js";
import { el } from "./dom.js";
import type { Outbox } from "./outbox.js";
import { CLASS } from "./style.js";

export class Panel {
  constructor(
    private readonly ctx: CanvasContext,
    private readonly outbox: Outbox,
  ) {}

  mode(): void {
    const { dom, local } = this.ctx;
    dom.modeBtn.textContent = local.positiveMode ? "+ positive (T)" : "− negative (T)";
    dom.modeBtn.setAttribute("aria-pressed", String(!local.positiveMode));
    dom.root.dataset.mode = local.positiveMode ? "positive" : "negative";
  }

  slice(): void {
    const { dom, local, image } = this.ctx;
    dom.sliceCtl.wrap.hidden = image.depth <= 1;
    dom.sliceCtl.input.min = "0";
    dom.sliceCtl.input.max = String(Math.max(image.depth - 1, 0));
    dom.sliceCtl.input.value = String(local.slice);
    dom.sliceLabel.textContent = `${local.slice + 1} / ${image.depth}`;
    dom.propagateBtn.hidden = image.depth <= 1;
  }

  window(): void {
    const { dom, local } = this.ctx;
    const [lo, hi] = this.ctx.get("value_range");
    const span = Math.max(hi - lo, 1e-6);
    dom.levelCtl.input.min = String(lo - span / 2);
    dom.levelCtl.input.max = String(hi + span / 2);
    dom.widthCtl.input.min = String(span / 1000);
    dom.widthCtl.input.max = String(span * 2);
    dom.levelCtl.input.value = String(local.win.level);
    dom.widthCtl.input.value = String(local.win.width);
    const match = this.ctx.get("window_presets").find((p) => Math.abs(p.level - local.win.level) < 1e-9 && Math.abs(p.width - local.win.width) < 1e-9);
    dom.preset.value = match ? match.name : "";
  }

  presets(): void {
    const { dom, doc } = this.ctx;
    dom.preset.replaceChildren(el(doc, "option", { value: "" }, "window…"));
    for (const p of this.ctx.get("window_presets") as NamedWindow[]) {
      dom.preset.appendChild(el(doc, "option", { value: p.name }, `${p.name} (${formatValue(p.level)}/${formatValue(p.width)})`));
    }
  }

  buttons(): void {
    const { dom, image } = this.ctx;
    dom.undoBtn.disabled = !this.ctx.get("can_undo");
    dom.redoBtn.disabled = !this.ctx.get("can_redo");
    dom.propagateBtn.disabled = !this.ctx.get("can_propagate");
    dom.commitBtn.disabled = (image.current?.slices.size ?? 0) === 0;
  }

  /** Segment everything's buttons: Stop while it runs; the clear button while there is something to clear. */
  proposals(): void {
    const { dom } = this.ctx;
    const running = this.ctx.get("status") === "proposing";
    const count = this.ctx.proposals.count;
    dom.everythingBtn.textContent = running ? "Stop (A)" : "Everything (A)";
    dom.everythingBtn.setAttribute("aria-pressed", String(running));
    dom.clearProposalsBtn.hidden = !running && count === 0;
    dom.clearProposalsBtn.textContent = count > 0 ? `Clear ${count} proposals (Esc)` : "Clear proposals (Esc)";
    dom.root.dataset.proposals = String(count);
  }

  /** Busy while the kernel says so (embedding, propagating...) or an action of ours is unanswered. */
  busy(): void {
    const { dom } = this.ctx;
    const waiting = this.outbox.waiting;
    const s = this.ctx.get("status");
    const isBusy = s !== "ready" || waiting > 0;
    dom.busy.hidden = !isBusy;
    dom.root.dataset.busy = String(isBusy);
    dom.root.dataset.status = s;
    const text = this.ctx.get("status_text");
    dom.statusOut.textContent = text || (s === "ready" ? "" : s);
  }

  showError(text: string): void {
    const { dom } = this.ctx;
    dom.errorText.textContent = text;
    dom.errorBox.hidden = text === "";
    dom.root.dataset.error = text;
  }

  /** The kernel's last error, unless the user closed that one. */
  error(): void {
    const n = this.ctx.get("error_seq");
    this.showError(n === this.ctx.local.dismissedError ? "" : this.ctx.get("error"));
  }

  /** The brush and eraser buttons, the brush size and what it paints. */
  tools(): void {
    const { dom, local } = this.ctx;
    dom.brushBtn.setAttribute("aria-pressed", String(local.tool === "brush"));
    dom.eraserBtn.setAttribute("aria-pressed", String(local.tool === "eraser"));
    dom.root.dataset.tool = local.tool;
    dom.root.dataset.brushTarget = String(local.brushTarget);
    const target = local.brushTarget === 0 ? "current object" : (this.ctx.get("objects").find((o) => o.label === local.brushTarget)?.name ?? `object ${local.brushTarget}`);
    dom.brushOut.textContent = local.tool === "prompt" ? "" : `${local.tool} ${local.brushRadius} px → ${target}`;
  }

  /**
   * The objects list: colour (click: the brush paints this object; again: the current object),
   * visibility, name (editable), label id (editable: relabel), size and slices, go to its
   * central slice, remove.
   */
  objects(): void {
    const { dom, doc, local } = this.ctx;
    const palette = this.ctx.get("palette");
    const objects = this.ctx.get("objects") as ObjectSummary[];
    const labels = new Set(objects.map((o) => o.label));
    for (const l of [...local.hidden]) if (!labels.has(l)) local.hidden.delete(l);
    if (local.brushTarget !== 0 && !labels.has(local.brushTarget)) local.brushTarget = 0;
    dom.objectsList.replaceChildren();
    for (const o of objects) {
      const id = (what: string) => ({ "data-testid": `${what}-${o.label}`, tabindex: "-1" });
      const li = el(doc, "li", { "data-label": String(o.label), "aria-selected": String(local.brushTarget === o.label) });
      const [r, g, b] = labelColour(palette, o.label);
      const swatch = el(doc, "button", { ...id("target"), type: "button", class: CLASS.swatch, style: `background: rgb(${r},${g},${b})`, title: "brush and eraser work on this object (click again: the current object)" });
      swatch.addEventListener("click", () => {
        local.brushTarget = local.brushTarget === o.label ? 0 : o.label;
        this.objects();
        this.tools();
      });
      const visible = el(doc, "input", { ...id("visible"), type: "checkbox", title: "show this object" });
      visible.checked = !local.hidden.has(o.label);
      visible.addEventListener("change", () => {
        if (visible.checked) local.hidden.delete(o.label);
        else local.hidden.add(o.label);
        this.ctx.refresh();
      });
      const name = el(doc, "input", { ...id("name"), type: "text", value: o.name, size: "12", title: "rename (Enter)" });
      name.addEventListener("change", () => {
        if (name.value.trim() && name.value.trim() !== o.name) this.ctx.act({ type: "rename_object", label: o.label, name: name.value });
      });
      const label = el(doc, "input", { ...id("relabel"), type: "number", min: "1", max: "65535", value: String(o.label), title: "label id (change: relabel)", style: "width: 4em" });
      label.addEventListener("change", () => {
        const to = Number(label.value);
        if (Number.isInteger(to) && to !== o.label) this.ctx.act({ type: "relabel_object", label: o.label, to });
      });
      const span = o.slices.length > 1 ? `slices ${o.slices[0]}–${o.slices[o.slices.length - 1]}` : o.slices.length === 1 && this.ctx.image.depth > 1 ? `slice ${o.slices[0]}` : "";
      const size = el(doc, "span", { "data-testid": `size-${o.label}` }, `${o.voxels} px${span ? ` · ${span}` : ""}`);
      const go = el(doc, "button", { ...id("goto"), type: "button", title: "go to its central slice" }, "go");
      go.hidden = this.ctx.image.depth <= 1;
      go.addEventListener("click", () => this.ctx.setSlice(centralSlice(o.slices)));
      const del = el(doc, "button", { ...id("remove"), type: "button", title: `remove object ${o.label}` }, "×");
      del.addEventListener("click", () => this.ctx.act({ type: "remove_object", label: o.label }));
      li.append(swatch, visible, name, label, size, go, del);
      dom.objectsList.appendChild(li);
    }
  }

  orientation(): void {
    const o = this.ctx.get("orientation");
    this.ctx.dom.orient.left.textContent = o ? o.left : "";
    this.ctx.dom.orient.top.textContent = o ? o.top : "";
  }

  header(): void {
    const { dom } = this.ctx;
    dom.title.textContent = this.ctx.get("title");
    dom.title.hidden = !this.ctx.get("title");
    dom.noticeOut.textContent = this.ctx.get("notice");
  }

  /** Position, value and label under the pointer. */
  cursor(): void {
    const { dom, local, image } = this.ctx;
    const hover = local.hover;
    if (!hover || hover.x < 0 || hover.y < 0 || hover.x >= image.width || hover.y >= image.height) {
      dom.cursorOut.textContent = "";
      return;
    }
    const i = (local.slice * image.width * image.height + hover.y * image.width + hover.x) * image.channels;
    const values = image.channels === 1 ? [image.samples[i]!] : [0, 1, 2].map((c) => image.samples[i + c]!);
    const label = this.ctx.labelSlice(local.slice)?.[hover.y * image.width + hover.x] ?? 0;
    dom.cursorOut.textContent = cursorText({ x: hover.x, y: hover.y, z: local.slice, depth: image.depth, values, label });
  }
}

/** The slice in the middle of an object's slices (what "go to object" shows). */
export function centralSlice(slices: readonly number[]): number {
  return slices.length === 0 ? 0 : slices[Math.floor((slices.length - 1) / 2)]!;
}
