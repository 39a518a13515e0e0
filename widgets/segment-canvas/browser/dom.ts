/**
 * The canvas's elements: built once per view, with the `data-testid`s the browser and e2e
 * tests find them by. Only structure here; panel.ts fills them from the model, input.ts
 * listens to them.
 */
import { helpLine } from "./keys.js";
import { CLASS, CSS, STYLE_ID } from "./style.js";

export function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Adds the style sheet to the document once (every view shares it). */
export function injectStyle(doc: Document): void {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.appendChild(style);
}

export interface RangeControl {
  readonly wrap: HTMLLabelElement;
  readonly input: HTMLInputElement;
}

export interface CanvasDom {
  readonly root: HTMLDivElement;
  readonly title: HTMLDivElement;
  readonly modeBtn: HTMLButtonElement;
  readonly brushBtn: HTMLButtonElement;
  readonly eraserBtn: HTMLButtonElement;
  readonly brushOut: HTMLSpanElement;
  readonly segmentBtn: HTMLButtonElement;
  readonly commitBtn: HTMLButtonElement;
  readonly clearBtn: HTMLButtonElement;
  readonly undoBtn: HTMLButtonElement;
  readonly redoBtn: HTMLButtonElement;
  readonly propagateBtn: HTMLButtonElement;
  readonly everythingBtn: HTMLButtonElement;
  readonly clearProposalsBtn: HTMLButtonElement;
  readonly resetBtn: HTMLButtonElement;
  readonly busy: HTMLSpanElement;
  readonly stage: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly orient: { readonly left: HTMLDivElement; readonly top: HTMLDivElement };
  readonly sliceCtl: RangeControl;
  readonly sliceLabel: HTMLSpanElement;
  readonly levelCtl: RangeControl;
  readonly widthCtl: RangeControl;
  readonly preset: HTMLSelectElement;
  readonly opacityCtl: RangeControl;
  readonly outlineBox: HTMLInputElement;
  readonly cursorOut: HTMLSpanElement;
  readonly statusOut: HTMLSpanElement;
  readonly noticeOut: HTMLSpanElement;
  readonly errorBox: HTMLDivElement;
  readonly errorText: HTMLSpanElement;
  readonly errorClose: HTMLButtonElement;
  readonly objectsList: HTMLUListElement;
  /** SAM's three masks for a single click (candidates.ts fills it). */
  readonly candidatesBox: HTMLDivElement;
  /** The last propagation's per-slice strip (propagation-strip.ts fills it). */
  readonly propagationBox: HTMLDivElement;
}

/** Builds the elements and appends them to `host`. */
export function buildDom(doc: Document, host: HTMLElement): CanvasDom {
  injectStyle(doc);
  const root = el(doc, "div", { class: CLASS.root, tabindex: "0", "data-testid": "segment-canvas", "data-lm-suppress-shortcuts": "true", role: "application", "aria-label": "segmentation canvas" });
  const title = el(doc, "div", { class: CLASS.title, "data-testid": "title" });
  const toolbar = el(doc, "div", { class: CLASS.toolbar });
  const button = (id: string, label: string, tip: string) => {
    const b = el(doc, "button", { type: "button", "data-testid": id, title: tip, tabindex: "-1" }, label);
    toolbar.appendChild(b);
    return b;
  };
  const modeBtn = button("mode", "", "click mode: T toggles; Shift+click or right click is always negative");
  const brushBtn = button("brush", "Brush (B)", "paint the current object, or the object picked in the list; [ and ] size it");
  const eraserBtn = button("eraser", "Eraser (E)", "erase from the current object, or from the object picked in the list");
  const brushOut = el(doc, "span", { "data-testid": "brush-size" });
  toolbar.appendChild(brushOut);
  const segmentBtn = button("segment", "Segment (S)", "segment now");
  const commitBtn = button("commit", "Commit (C)", "commit the current object as a new label");
  const clearBtn = button("clear", "Clear (⇧C)", "clear the current object's prompts and mask");
  const undoBtn = button("undo", "Undo", "Ctrl+Z");
  const redoBtn = button("redo", "Redo", "Ctrl+Shift+Z");
  const propagateBtn = button("propagate", "Propagate (⇧S)", "propagate the current object through the volume");
  const everythingBtn = button("everything", "Everything (A)", "segment everything on this slice: click a proposal to accept it, Shift+click to drop it");
  const clearProposalsBtn = button("clear-proposals", "Clear proposals (Esc)", "stop segment everything and drop the remaining proposals");
  const resetBtn = button("reset-view", "Reset view (R)", "fit the image");
  const busy = el(doc, "span", { class: CLASS.busy, "data-testid": "busy", role: "status", "aria-label": "working" });
  toolbar.appendChild(busy);

  const stage = el(doc, "div", { class: CLASS.stage });
  const canvas = el(doc, "canvas", { "data-testid": "canvas" });
  stage.appendChild(canvas);
  const orient = {
    left: el(doc, "div", { class: CLASS.orient, style: "left:4px;top:50%" }),
    top: el(doc, "div", { class: CLASS.orient, style: "left:50%;top:2px" }),
  };
  stage.append(orient.left, orient.top);

  const controls = el(doc, "div", { class: CLASS.controls });
  const range = (id: string, label: string): RangeControl => {
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

  const status = el(doc, "div", { class: CLASS.status });
  const cursorOut = el(doc, "span", { "data-testid": "cursor" });
  const statusOut = el(doc, "span", { "data-testid": "status" });
  const noticeOut = el(doc, "span", { class: CLASS.notice, "data-testid": "notice" });
  status.append(cursorOut, statusOut, noticeOut);
  const errorBox = el(doc, "div", { class: CLASS.error, "data-testid": "error", role: "alert" });
  const errorText = el(doc, "span");
  const errorClose = el(doc, "button", { type: "button", title: "dismiss", tabindex: "-1" }, "×");
  errorBox.append(errorText, errorClose);
  const objectsList = el(doc, "ul", { class: CLASS.objects, "data-testid": "objects" });
  const help = el(doc, "div", { class: CLASS.help }, helpLine());
  const candidatesBox = el(doc, "div", { class: CLASS.candidates, "data-testid": "candidates" });
  candidatesBox.hidden = true;
  const propagationBox = el(doc, "div", { class: CLASS.propagation, "data-testid": "propagation" });
  propagationBox.hidden = true;
  root.append(title, toolbar, stage, controls, status, errorBox, candidatesBox, propagationBox, objectsList, help);
  host.appendChild(root);
  return {
    root,
    title,
    modeBtn,
    brushBtn,
    eraserBtn,
    brushOut,
    segmentBtn,
    commitBtn,
    clearBtn,
    undoBtn,
    redoBtn,
    propagateBtn,
    everythingBtn,
    clearProposalsBtn,
    resetBtn,
    busy,
    stage,
    canvas,
    orient,
    sliceCtl,
    sliceLabel,
    levelCtl,
    widthCtl,
    preset,
    opacityCtl,
    outlineBox,
    cursorOut,
    statusOut,
    noticeOut,
    errorBox,
    errorText,
    errorClose,
    objectsList,
    candidatesBox,
    propagationBox,
  };
}
