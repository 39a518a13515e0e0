/**
 * Input on one view: pointer (click = point, drag = box, middle/Ctrl drag = pan, right drag =
 * window/level), wheel zoom, the keys of keys.ts's table, and the toolbar and controls.
 * Everything visual happens here without the kernel; only actions go to it, on click or key
 * press. Nothing is sent on mouse moves.
 */
import { stampSegment, stepBrush } from "../common/brush.js";
import { encodeRle, toBase64 } from "../common/mask-codec.js";
import type { NamedWindow } from "../common/state.js";
import type { CanvasContext, Drag, Tool } from "./context.js";
import type { Painter } from "./draw.js";
import { bindingFor, type Command } from "./keys.js";
import type { Panel } from "./panel.js";
import { CLICK_SLOP, dragBox, hitPrompt, toImage, zoomAt } from "./viewport.js";

export function attachInput(ctx: CanvasContext, panel: Panel, painter: Painter): void {
  const { dom, local, image } = ctx;
  const { canvas, root } = dom;

  /** Client point -> stage point (the canvas fills the stage). */
  const onStage = (clientX: number, clientY: number) => {
    const r = canvas.getBoundingClientRect();
    return { sx: clientX - r.left, sy: clientY - r.top };
  };
  const imagePoint = (clientX: number, clientY: number) => {
    const { sx, sy } = onStage(clientX, clientY);
    return toImage(local.view, image.aspect, sx, sy);
  };
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < image.width && y < image.height;

  function zoom(sx: number, sy: number, factor: number): void {
    local.view = zoomAt(local.view, sx, sy, factor);
    ctx.schedule();
  }

  function resetView(): void {
    ctx.fit();
    ctx.schedule();
  }

  function toggleMode(): void {
    local.positiveMode = !local.positiveMode;
    panel.mode();
  }

  function windowChanged(): void {
    panel.window();
    ctx.schedule();
  }

  function setTool(tool: Tool): void {
    local.tool = local.tool === tool ? "prompt" : tool;
    panel.tools();
    ctx.schedule();
  }

  /** Stamps the brush from the stroke's last point to (fx, fy) and redraws the touched pixels. */
  function stamp(fx: number, fy: number): void {
    const stroke = local.stroke;
    if (!stroke) return;
    const t0 = performance.now();
    const rect = stampSegment(stroke.mask, image.width, image.height, stroke.last.x, stroke.last.y, fx, fy, local.brushRadius);
    stroke.last = { x: fx, y: fy };
    if (rect) painter.strokeChanged(rect);
    stroke.workMs += performance.now() - t0;
    ctx.schedule();
  }

  function beginStroke(clientX: number, clientY: number): void {
    const p = imagePoint(clientX, clientY);
    local.stroke = {
      z: local.slice,
      target: local.brushTarget,
      erase: local.tool === "eraser",
      mask: new Uint8Array(image.width * image.height),
      last: { x: p.fx - 0.5, y: p.fy - 0.5 },
      workMs: 0,
      frames: [],
    };
    painter.beginStroke();
    stamp(p.fx - 0.5, p.fy - 0.5);
  }

  /** The stroke ends: its footprint goes to the kernel as one action (one undo step), run-length encoded. */
  function endStroke(): void {
    const stroke = local.stroke;
    if (!stroke) return;
    local.stroke = undefined;
    let painted = 0;
    for (let i = 0; i < stroke.mask.length; i++) painted += stroke.mask[i]!;
    if (painted > 0) {
      const rle = encodeRle(stroke.mask);
      ctx.act({ type: "stroke", z: stroke.z, target: stroke.target, erase: stroke.erase, mask: toBase64(rle) });
      const detail = { frames: stroke.frames, pixels: painted, bytes: rle.length };
      dom.root.dataset.lastStrokeFrames = stroke.frames.map((f) => f.toFixed(2)).join(",");
      dom.root.dispatchEvent(new CustomEvent("msam-stroke", { detail, bubbles: true }));
    }
    // The layer stays on screen until the kernel's answer replaces it (labels or current mask).
    painter.endStroke();
    ctx.refresh();
  }

  /** Segment everything, or stop it while it runs. */
  function everything(): void {
    if (ctx.get("status") === "proposing") ctx.act({ type: "clear_proposals" });
    else ctx.act({ type: "segment_everything", z: local.slice });
  }

  function click(clientX: number, clientY: number, positive: boolean, drop = !positive): void {
    const { sx, sy } = onStage(clientX, clientY);
    const hit = hitPrompt(ctx.get("prompts"), local.slice, local.view, image.aspect, sx, sy);
    if (hit !== undefined) {
      ctx.act({ type: "remove_prompt", id: hit });
      return;
    }
    const p = imagePoint(clientX, clientY);
    if (!inside(p.x, p.y)) return;
    // A click on a proposal accepts it (Shift or right click drops it) instead of placing a point.
    const proposal = ctx.proposals.at(local.slice, p.x, p.y);
    if (proposal) {
      ctx.act(drop ? { type: "drop_proposal", id: proposal.id } : { type: "accept_proposal", id: proposal.id });
      return;
    }
    ctx.act({ type: "add_point", x: p.x, y: p.y, z: local.slice, positive });
  }

  function onPointerDown(e: PointerEvent): void {
    root.focus({ preventScroll: true });
    const pan = e.button === 1 || (e.button === 0 && (e.ctrlKey || e.metaKey || e.altKey));
    const kind: Drag["kind"] = pan ? "pan" : e.button === 2 ? "right" : local.tool !== "prompt" ? "paint" : "box";
    if (e.button > 2) return;
    if (kind === "paint") beginStroke(e.clientX, e.clientY);
    local.drag = { kind, pointerId: e.pointerId, startX: e.clientX, startY: e.clientY, lastX: e.clientX, lastY: e.clientY, moved: false, shift: e.shiftKey };
    canvas.setPointerCapture?.(e.pointerId);
    e.preventDefault();
  }

  function onPointerMove(e: PointerEvent): void {
    const p = imagePoint(e.clientX, e.clientY);
    local.hover = { x: p.x, y: p.y, fx: p.fx - 0.5, fy: p.fy - 0.5 };
    panel.cursor();
    if (local.tool !== "prompt") ctx.schedule();
    if (local.drag?.kind === "paint" && e.pointerId === local.drag.pointerId) {
      stamp(p.fx - 0.5, p.fy - 0.5);
      return;
    }
    const drag = local.drag;
    if (!drag || e.pointerId !== drag.pointerId) return;
    const dx = e.clientX - drag.lastX;
    const dy = e.clientY - drag.lastY;
    drag.lastX = e.clientX;
    drag.lastY = e.clientY;
    if (Math.hypot(e.clientX - drag.startX, e.clientY - drag.startY) > CLICK_SLOP) drag.moved = true;
    if (!drag.moved) return;
    if (drag.kind === "pan") {
      local.view = { ...local.view, ox: local.view.ox + dx, oy: local.view.oy + dy };
      ctx.schedule();
    } else if (drag.kind === "right") {
      // Right-drag: horizontal = width, vertical = level, as in radiology viewers.
      const [lo, hi] = ctx.get("value_range");
      const k = Math.max(hi - lo, 1) / 400;
      local.win = { level: local.win.level + dy * k, width: Math.max(local.win.width + dx * k, 1e-6) };
      windowChanged();
    } else {
      ctx.schedule();
    }
  }

  function onPointerUp(e: PointerEvent): void {
    const d = local.drag;
    if (!d || e.pointerId !== d.pointerId) return;
    local.drag = undefined;
    canvas.releasePointerCapture?.(e.pointerId);
    if (d.kind === "pan") return;
    if (d.kind === "paint") {
      endStroke();
      return;
    }
    if (d.kind === "right") {
      if (!d.moved) click(e.clientX, e.clientY, false);
      return;
    }
    if (!d.moved) {
      click(e.clientX, e.clientY, local.positiveMode !== d.shift, d.shift);
      return;
    }
    const box = dragBox(imagePoint(d.startX, d.startY), imagePoint(e.clientX, e.clientY), image.width, image.height);
    ctx.schedule();
    if (box) ctx.act({ type: "set_box", ...box, z: local.slice });
  }

  function onWheel(e: WheelEvent): void {
    e.preventDefault();
    const { sx, sy } = onStage(e.clientX, e.clientY);
    zoom(sx, sy, Math.pow(1.0015, -e.deltaY));
  }

  function run(command: Command): void {
    switch (command.kind) {
      case "act":
        ctx.act(command.action);
        return;
      case "toggle-mode":
        toggleMode();
        return;
      case "tool":
        setTool(command.tool);
        return;
      case "brush-size":
        local.brushRadius = stepBrush(local.brushRadius, command.up);
        panel.tools();
        ctx.schedule();
        return;
      case "slice-step":
        ctx.setSlice(local.slice + command.by);
        return;
      case "slice-end":
        ctx.setSlice(command.end === "first" ? 0 : image.depth - 1);
        return;
      case "reset-view":
        resetView();
        return;
      case "toggle-outline":
        local.outlineOnly = !local.outlineOnly;
        dom.outlineBox.checked = local.outlineOnly;
        ctx.refresh();
        return;
      case "zoom": {
        const { w, h } = ctx.stageSize();
        zoom(w / 2, h / 2, command.factor);
        return;
      }
      case "everything":
        everything();
        return;
      case "leave":
        if (ctx.get("status") === "proposing" || ctx.proposals.count > 0) ctx.act({ type: "clear_proposals" });
        else root.blur();
        return;
      case "repropagate":
        ctx.act({ type: "repropagate", z: local.slice });
        return;
    }
  }

  function onKeyDown(e: KeyboardEvent): void {
    // Nothing typed here reaches Jupyter's shortcuts (a, b, dd, Shift+Enter...).
    e.stopPropagation();
    const target = e.target as HTMLElement | null;
    // A focused slider or select keeps its own navigation keys; letters stay shortcuts.
    const navigation = /^(Arrow|Page|Home$|End$|Tab$|Enter$| $)/.test(e.key);
    if (target && target !== root && (target.tagName === "INPUT" || target.tagName === "SELECT") && navigation) return;
    // Typing a name (or a label) in the objects list: every key is the field's.
    const typing = target && target !== root && target.tagName === "INPUT" && ["text", "number"].includes((target as HTMLInputElement).type);
    if (typing) {
      if (e.key === "Escape") root.focus();
      return;
    }
    const binding = bindingFor(e);
    if (!binding) return;
    run(binding.command);
    e.preventDefault();
  }

  const stop = (e: Event) => e.stopPropagation();
  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("pointerleave", () => {
    local.hover = undefined;
    panel.cursor();
  });
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  root.addEventListener("keydown", onKeyDown);
  root.addEventListener("keyup", stop);
  root.addEventListener("keypress", stop);

  dom.modeBtn.addEventListener("click", toggleMode);
  dom.brushBtn.addEventListener("click", () => setTool("brush"));
  dom.eraserBtn.addEventListener("click", () => setTool("eraser"));
  dom.segmentBtn.addEventListener("click", () => ctx.act({ type: "segment" }));
  dom.commitBtn.addEventListener("click", () => ctx.act({ type: "commit" }));
  dom.clearBtn.addEventListener("click", () => ctx.act({ type: "clear" }));
  dom.undoBtn.addEventListener("click", () => ctx.act({ type: "undo" }));
  dom.redoBtn.addEventListener("click", () => ctx.act({ type: "redo" }));
  dom.propagateBtn.addEventListener("click", () => ctx.act({ type: "propagate" }));
  dom.everythingBtn.addEventListener("click", everything);
  dom.clearProposalsBtn.addEventListener("click", () => ctx.act({ type: "clear_proposals" }));
  dom.resetBtn.addEventListener("click", resetView);
  dom.errorClose.addEventListener("click", () => {
    local.dismissedError = ctx.get("error_seq");
    panel.error();
  });
  dom.sliceCtl.input.addEventListener("input", () => ctx.setSlice(Number(dom.sliceCtl.input.value)));
  dom.levelCtl.input.addEventListener("input", () => {
    local.win = { ...local.win, level: Number(dom.levelCtl.input.value) };
    windowChanged();
  });
  dom.widthCtl.input.addEventListener("input", () => {
    local.win = { ...local.win, width: Math.max(Number(dom.widthCtl.input.value), 1e-6) };
    windowChanged();
  });
  dom.preset.addEventListener("change", () => {
    const p = (ctx.get("window_presets") as NamedWindow[]).find((q) => q.name === dom.preset.value);
    if (p) {
      local.win = { level: p.level, width: p.width };
      windowChanged();
    }
  });
  dom.opacityCtl.input.value = String(local.opacity);
  dom.opacityCtl.input.addEventListener("input", () => {
    local.opacity = Number(dom.opacityCtl.input.value);
    ctx.refresh();
  });
  dom.outlineBox.addEventListener("change", () => {
    local.outlineOnly = dom.outlineBox.checked;
    ctx.refresh();
  });
}
