/**
 * SAM's three answers to a single click, under the canvas: a thumbnail of each (the slice around
 * the click, the mask tinted), its predicted IoU, ✓ on micro_sam's choice, the shown one
 * pressed. Clicking a thumbnail or pressing 1-3 asks the kernel to show that one instead.
 */
import { decodeRle, fromBase64 } from "../common/mask-codec.js";
import type { CandidateSet } from "../common/state.js";
import { blend, isEdge, windowedSlice } from "./compose.js";
import type { CanvasContext } from "./context.js";
import { el } from "./dom.js";
import { thumbnailCrop } from "./thumbnail.js";
import { CLASS } from "./style.js";

/** Fills the candidates strip from the model's `candidates` (hidden when there are none). */
export function renderCandidates(ctx: CanvasContext): void {
  const { dom, doc, image, local } = ctx;
  const set = ctx.get("candidates") as CandidateSet | null;
  const box = dom.candidatesBox;
  box.replaceChildren();
  box.hidden = !set || set.z !== local.slice;
  if (!set || box.hidden || image.samples.length === 0) return;
  const { width, height } = image;
  const masks = set.items.map((c) => decodeRle(fromBase64(c.mask), width * height));
  const crop = thumbnailCrop(masks, width, height);
  const base = windowedSlice(image.samples, image, set.z, local.win);
  const colour = ctx.get("highlight");
  box.appendChild(el(doc, "span", {}, "SAM's answers to the click (1-3):"));
  set.items.forEach((c, k) => {
    const mask = masks[k]!;
    const data = new ImageData(crop.w, crop.h);
    for (let y = 0; y < crop.h; y++) {
      for (let x = 0; x < crop.w; x++) {
        const i = (crop.y + y) * width + crop.x + x;
        const o = y * crop.w + x;
        data.data.set(base.subarray(4 * i, 4 * i + 4), 4 * o);
        if (mask[i]) blend(data.data, o, colour, isEdge(mask, i, crop.x + x, crop.y + y, width, height) ? 1 : 0.45);
      }
    }
    const thumb = el(doc, "canvas", { width: String(crop.w), height: String(crop.h), class: CLASS.thumb });
    thumb.getContext("2d")?.putImageData(data, 0, 0);
    const label = `${c.token} · IoU ${c.iou.toFixed(2)}${c.chosen ? " ✓" : ""}`;
    const button = el(doc, "button", {
      type: "button",
      tabindex: "-1",
      "data-testid": `candidate-${c.token}`,
      "data-iou": String(c.iou),
      "aria-pressed": String(set.shown === c.token),
      title: `show candidate ${c.token} (key ${c.token}): predicted IoU ${c.iou.toFixed(3)}, ${c.area} px${c.chosen ? "; micro_sam's rule picks this one" : ""}`,
    });
    button.append(thumb, el(doc, "span", {}, label));
    button.addEventListener("click", () => ctx.act({ type: "pick_candidate", token: c.token }));
    box.appendChild(button);
  });
}
