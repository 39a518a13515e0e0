/**
 * The canvas view's pure cores, in Node: the key table against the help line the user reads,
 * the style sheet's scoping, the slice composition (window, label and highlight blend,
 * outlines) and the viewport geometry that maps clicks to pixels.
 */
import { describe, expect, it } from "vitest";
import { blend, composeSlice, cursorText, isEdge, samplesOf, windowedSlice } from "../widgets/segment-canvas/browser/compose.js";
import { bindingFor, helpLine, KEY_TABLE, POINTER_HELP, type KeyPress } from "../widgets/segment-canvas/browser/keys.js";
import { CLASS, CSS } from "../widgets/segment-canvas/browser/style.js";
import { dragBox, fitView, hitPrompt, toImage, toScreen, zoomAt } from "../widgets/segment-canvas/browser/viewport.js";

/** How a key name in the help line is typed: its KeyboardEvent.key. */
const TYPED: Record<string, string> = { "↑": "ArrowUp", "↓": "ArrowDown", "→": "ArrowRight", "←": "ArrowLeft", PgUp: "PageUp", PgDn: "PageDown", Del: "Delete", Esc: "Escape" };

/** "Ctrl+Shift+Z" -> the key press it names. */
function press(name: string): KeyPress {
  const parts = name.split("+").filter((p, i, all) => p !== "" || i === all.length - 1);
  // "+" itself splits into two empty strings: the key is "+".
  const key = name.endsWith("++") || name === "+" ? "+" : parts[parts.length - 1]!;
  const mods = new Set(parts.slice(0, -1));
  return { key: TYPED[key] ?? key, shiftKey: mods.has("Shift"), ctrlKey: mods.has("Ctrl"), metaKey: false };
}

/** The help line's items for keys: label and what it says the key does. */
function helpKeys(): { names: string[]; does: string }[] {
  const pointer = new Set(POINTER_HELP.map((p) => p.label));
  return helpLine()
    .split(" · ")
    .map((item) => {
      const at = item.lastIndexOf(": ");
      return { label: item.slice(0, at), does: item.slice(at + 2) };
    })
    .filter((i) => !pointer.has(i.label))
    .map((i) => ({ names: i.label.split("/"), does: i.does }));
}

describe("the key table", () => {
  it("every key the help line names does what the help line says", () => {
    const items = helpKeys();
    expect(items.length).toBe(KEY_TABLE.length);
    for (const { names, does } of items) {
      for (const name of names) {
        const binding = bindingFor(press(name));
        expect(binding, `${name} (${does})`).toBeDefined();
        expect(binding!.does, name).toBe(does);
      }
    }
  });

  it("every key the table answers is named in the help line", () => {
    const named = new Set(helpKeys().flatMap((i) => i.names));
    const shown = Object.fromEntries(Object.entries(TYPED).map(([name, key]) => [key, name]));
    for (const b of KEY_TABLE) {
      for (const p of b.keys) {
        // Keys that work with or without Shift (or Ctrl) are named without it.
        const name = `${p.ctrl === true ? "Ctrl+" : ""}${p.shift === true ? "Shift+" : ""}${shown[p.key] ?? (p.key.length === 1 ? p.key.toUpperCase() : p.key)}`;
        expect(named.has(name), `${name} (${b.does})`).toBe(true);
      }
    }
  });

  it("letters match in either case, Shift and Ctrl/Cmd choose the command, unknown keys do nothing", () => {
    const k = (key: string, mods: Partial<KeyPress> = {}) => bindingFor({ key, shiftKey: false, ctrlKey: false, metaKey: false, ...mods })?.command;
    expect(k("s")).toEqual({ kind: "act", action: { type: "segment" } });
    expect(k("S", { shiftKey: true })).toEqual({ kind: "act", action: { type: "propagate" } });
    expect(k("c")).toEqual({ kind: "act", action: { type: "commit" } });
    expect(k("C", { shiftKey: true })).toEqual({ kind: "act", action: { type: "clear" } });
    expect(k("z", { metaKey: true })).toEqual({ kind: "act", action: { type: "undo" } });
    expect(k("Z", { ctrlKey: true, shiftKey: true })).toEqual({ kind: "act", action: { type: "redo" } });
    expect(k("y", { ctrlKey: true, shiftKey: true })).toEqual({ kind: "act", action: { type: "redo" } });
    // Ctrl with another letter is the browser's (Ctrl+C copies), not a canvas command.
    expect(k("c", { ctrlKey: true })).toBeUndefined();
    expect(k("z")).toBeUndefined();
    expect(k("T", { shiftKey: true })).toEqual({ kind: "toggle-mode" });
    expect(k("Escape", { ctrlKey: true })).toEqual({ kind: "leave" });
    expect(k("A")).toEqual({ kind: "everything" });
    expect(k("a", { shiftKey: true })).toBeUndefined();
    expect(k("q")).toBeUndefined();
  });

  it("no two rows claim the same key press", () => {
    const seen = new Map<string, string>();
    for (const b of KEY_TABLE) {
      for (const p of b.keys) {
        for (const shift of p.shift === undefined ? [false, true] : [p.shift]) {
          for (const ctrl of p.ctrl === "any" ? [false, true] : [p.ctrl === true]) {
            const id = `${p.key}|${shift}|${ctrl}`;
            expect(seen.get(id), id).toBeUndefined();
            seen.set(id, b.label);
          }
        }
      }
    }
  });
});

describe("the style sheet", () => {
  const rules = [...CSS.matchAll(/([^{}]+)\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g)].map((m) => m[1]!.trim());

  it("scopes every rule to a canvas class, and styles no class the DOM does not use", () => {
    expect(rules.length).toBeGreaterThan(10);
    const known = new Set<string>(Object.values(CLASS));
    for (const selector of rules) {
      if (selector.startsWith("@keyframes")) {
        expect(selector).toMatch(/^@keyframes msam-/);
        continue;
      }
      for (const part of selector.split(",")) {
        const first = part.trim().match(/^\.([\w-]+)/);
        expect(first, `'${part.trim()}' must start with a canvas class`).not.toBeNull();
        expect(known.has(first![1]!), first![1]).toBe(true);
      }
    }
    for (const cls of CSS.matchAll(/\.(msam-[\w-]+)/g)) expect(known.has(cls[1]!), cls[1]).toBe(true);
  });

  it("braces balance (one unclosed rule would swallow the rest)", () => {
    let depth = 0;
    for (const ch of CSS) {
      depth += ch === "{" ? 1 : ch === "}" ? -1 : 0;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
  });
});

describe("composing a slice", () => {
  it("maps values through the window, clipping both ends; NaN is black; RGB keeps its channels", () => {
    const gray = Float32Array.of(0, 50, 100, 150, NaN, -10);
    const out = windowedSlice(gray, { width: 3, height: 2, channels: 1 }, 0, { level: 75, width: 100 });
    // low = 25, scale = 2.55: 0 -> 0, 50 -> 63.75, 100 -> 191.25, 150 -> 255 (clipped)
    expect([0, 1, 2, 3, 4, 5].map((i) => out[4 * i])).toEqual([0, 64, 191, 255, 0, 0]);
    expect(out[3]).toBe(255);
    const rgb = Uint8Array.of(9, 9, 9, 10, 20, 30);
    const second = windowedSlice(rgb, { width: 1, height: 1, channels: 3 }, 1, { level: 127.5, width: 255 });
    expect(Array.from(second)).toEqual([10, 20, 30, 255]);
  });

  it("blends labels then the current object: filled pixels at the opacity, edges opaque; outline-only skips the inside", () => {
    const w = 5;
    const h = 5;
    const base = new Uint8ClampedArray(4 * w * h).fill(100);
    const labels = new Uint16Array(w * h);
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) labels[y * w + x] = 2;
    const current = new Uint8Array(w * h);
    current[0] = 1;
    const palette: [number, number, number][] = [
      [255, 0, 0],
      [0, 200, 0],
    ];
    const o = { labels, current, palette, highlight: [255, 214, 0], opacity: 0.5, outlineOnly: false };
    const out = composeSlice(new Uint8ClampedArray(base.length), base, w, h, o);
    const px = (x: number, y: number) => Array.from(out.subarray(4 * (y * w + x), 4 * (y * w + x) + 3));
    expect(px(2, 2)).toEqual([Math.round(100 * 0.5), Math.round(100 * 0.5 + 200 * 0.5), 50]); // inside: label 2 at 0.5
    expect(px(1, 1)).toEqual([0, 200, 0]); // edge of the label: opaque
    expect(px(0, 0)).toEqual([255, 214, 0]); // the current object on the border
    expect(px(4, 4)).toEqual([100, 100, 100]);
    expect(base[0]).toBe(100);
    const outline = composeSlice(new Uint8ClampedArray(base.length), base, w, h, { ...o, outlineOnly: true });
    expect(Array.from(outline.subarray(4 * 12, 4 * 12 + 3))).toEqual([100, 100, 100]);
    expect(Array.from(outline.subarray(4 * 6, 4 * 6 + 3))).toEqual([0, 200, 0]);
  });

  it("edges, blends, sample views and the cursor line", () => {
    const m = Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0, 0);
    expect(isEdge(m, 4, 1, 1, 3, 3)).toBe(true);
    const solid = new Uint8Array(9).fill(1);
    expect(isEdge(solid, 4, 1, 1, 3, 3)).toBe(false);
    expect(isEdge(solid, 0, 0, 0, 3, 3)).toBe(true);
    const px = Uint8ClampedArray.of(10, 20, 30, 255);
    blend(px, 0, [110, 120, 130], 0.25);
    expect(Array.from(px)).toEqual([35, 45, 55, 255]);
    const bytes = new Uint8Array(5);
    new DataView(bytes.buffer).setInt16(1, -300, true);
    expect(Array.from(samplesOf(bytes.subarray(1, 3), "int16"))).toEqual([-300]);
    expect(cursorText({ x: 3, y: 4, z: 2, depth: 5, values: [1.23456789], label: 7 })).toBe("x 3  y 4  z 2  value 1.2346  label 7");
    expect(cursorText({ x: 0, y: 0, z: 0, depth: 1, values: [1, 2, 3], label: 0 })).toBe("x 0  y 0  value 1, 2, 3");
  });
});

describe("the viewport", () => {
  it("fits the image centred, and screen <-> image round-trips through pixel centres", () => {
    const v = fitView({ w: 400, h: 300 }, 100, 50, 2);
    expect(v.scale).toBe(3);
    expect(v).toEqual({ scale: 3, ox: 50, oy: 0 });
    const s = toScreen(v, 2, 10, 20);
    expect(s).toEqual({ sx: 50 + 10.5 * 3, sy: 20.5 * 6 });
    expect(toImage(v, 2, s.sx, s.sy)).toMatchObject({ x: 10, y: 20 });
  });

  it("zooms about the cursor: the image point under it stays put", () => {
    const v = { scale: 2, ox: 10, oy: 20 };
    const before = toImage(v, 1, 100, 80);
    const z = zoomAt(v, 100, 80, 1.5);
    expect(z.scale).toBe(3);
    const after = toImage(z, 1, 100, 80);
    expect(after.fx).toBeCloseTo(before.fx, 9);
    expect(after.fy).toBeCloseTo(before.fy, 9);
    expect(zoomAt(v, 0, 0, 1e6).scale).toBe(64);
  });

  it("a click near a point hits it, one near a box edge hits the box, elsewhere nothing", () => {
    const v = { scale: 4, ox: 0, oy: 0 };
    const prompts = {
      points: [{ id: 1, x: 5, y: 5, z: 0, positive: true }],
      boxes: [{ id: 2, x0: 10, y0: 10, x1: 20, y1: 20, z: 0 }],
    };
    const c = toScreen(v, 1, 5, 5);
    expect(hitPrompt(prompts, 0, v, 1, c.sx + 3, c.sy)).toBe(1);
    expect(hitPrompt(prompts, 1, v, 1, c.sx, c.sy)).toBeUndefined();
    expect(hitPrompt(prompts, 0, v, 1, 40, 60)).toBe(2); // left edge of the box at x0 - 0.5 = 9.5 -> 38 px
    expect(hitPrompt(prompts, 0, v, 1, 60, 60)).toBeUndefined(); // inside the box, far from its edges
  });

  it("a drag box is clamped to the image; a drag wholly off one side is no box", () => {
    expect(dragBox({ x: -5, y: 3 }, { x: 4, y: 100 }, 10, 20)).toEqual({ x0: 0, y0: 3, x1: 4, y1: 19 });
    expect(dragBox({ x: 7, y: 8 }, { x: 2, y: 1 }, 10, 20)).toEqual({ x0: 2, y0: 1, x1: 7, y1: 8 });
    expect(dragBox({ x: -5, y: 3 }, { x: -1, y: 9 }, 10, 20)).toBeUndefined();
    expect(dragBox({ x: 3, y: 20 }, { x: 4, y: 25 }, 10, 20)).toBeUndefined();
  });
});
