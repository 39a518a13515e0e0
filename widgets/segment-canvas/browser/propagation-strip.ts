/**
 * The last propagation of the current object, under the canvas: one bar per slice (height: the
 * decoder's predicted IoU; colour: prompted, written, filled between prompts, refused, not
 * reached), how each direction stopped, and a button to propagate again from the shown slice
 * after fixing it (F). Clicking a bar shows that slice.
 */
import { repropagateStep, stripCaption, stripCells } from "../common/propagation-report.js";
import type { PropagationReport } from "../common/state.js";
import type { CanvasContext } from "./context.js";
import { el } from "./dom.js";
import { CLASS } from "./style.js";

/** Why the shown slice cannot be propagated again from, or undefined when it can. */
function refusal(report: PropagationReport, z: number): string | undefined {
  try {
    repropagateStep(report.seeds, z);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Fills the strip from the model's `propagation` (hidden when there is none). */
export function renderPropagation(ctx: CanvasContext): void {
  const { dom, doc, image, local } = ctx;
  const report = ctx.get("propagation") as PropagationReport | null | undefined;
  const box = dom.propagationBox;
  box.replaceChildren();
  box.hidden = !report;
  if (!report) return;
  const head = el(doc, "div");
  head.append(el(doc, "span", {}, "Propagation:"), el(doc, "span", { "data-testid": "propagation-caption" }, stripCaption(report, image.depth)));
  const why = refusal(report, local.slice);
  const again = el(
    doc,
    "button",
    { type: "button", tabindex: "-1", "data-testid": "repropagate", title: why ?? `after fixing slice ${local.slice} (prompts or brush): propagate again from it, replacing the slices beyond` },
    `Re-propagate from slice ${local.slice} (F)`,
  );
  again.disabled = why !== undefined;
  again.addEventListener("click", () => ctx.act({ type: "repropagate", z: local.slice }));
  head.appendChild(again);
  const strip = el(doc, "div", { class: CLASS.strip, "data-testid": "propagation-strip", role: "list" });
  for (const cell of stripCells(report, image.depth)) {
    const bar = el(doc, "button", {
      type: "button",
      tabindex: "-1",
      role: "listitem",
      title: cell.title,
      "data-z": String(cell.z),
      "data-kind": cell.kind,
      "aria-current": String(cell.z === local.slice),
      ...(cell.iou !== null ? { "data-iou": String(cell.iou) } : {}),
    });
    const fill = el(doc, "span");
    // Prompted and fixed slices are full height; slices without a predicted IoU a stub.
    const height = cell.kind === "seed" || cell.kind === "restart" ? 1 : (cell.iou ?? 0);
    fill.style.height = `${Math.round(Math.max(0, Math.min(1, height)) * 100)}%`;
    bar.appendChild(fill);
    bar.addEventListener("click", () => ctx.setSlice(cell.z));
    strip.appendChild(bar);
  }
  box.append(head, strip);
}
