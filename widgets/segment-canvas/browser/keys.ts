/**
 * Every key the canvas answers, and what it does: the one table the keyboard handler
 * (input.ts) looks keys up in and the help line under the canvas is written from. Pure, so
 * Node tests check that the two agree.
 *
 * Keys act only while the canvas has the focus; a focused slider or select keeps its own
 * navigation keys (input.ts), letters stay shortcuts.
 */
import type { Action } from "../common/state.js";

/** What a key does: an action for the kernel, or something the view does on its own. */
export type Command =
  | { readonly kind: "act"; readonly action: Action }
  | { readonly kind: "toggle-mode" }
  /** Brush or eraser on (again: back to prompts). */
  | { readonly kind: "tool"; readonly tool: "brush" | "eraser" }
  | { readonly kind: "brush-size"; readonly up: boolean }
  | { readonly kind: "slice-step"; readonly by: number }
  | { readonly kind: "slice-end"; readonly end: "first" | "last" }
  | { readonly kind: "reset-view" }
  | { readonly kind: "toggle-outline" }
  | { readonly kind: "zoom"; readonly factor: number }
  | { readonly kind: "leave" }
  /** Propagate again from the shown slice (the action needs the slice, which the view holds). */
  | { readonly kind: "repropagate" }
  /** Segment everything on the shown slice; while it runs: stop it. */
  | { readonly kind: "everything" };

/** A key as KeyboardEvent reports it (`key` of one character in lower case) and the modifiers it needs. */
export interface KeyPattern {
  readonly key: string;
  /** Must Shift be held (true), not held (false), or either (absent)? */
  readonly shift?: boolean;
  /** Ctrl or Cmd: held (true), either ("any"); absent means not held. */
  readonly ctrl?: true | "any";
}

export interface KeyBinding {
  /** The keys as the help line names them. */
  readonly label: string;
  /** What it does, in the help line. */
  readonly does: string;
  readonly keys: readonly KeyPattern[];
  readonly command: Command;
}

const act = (action: Action): Command => ({ kind: "act", action });

export const KEY_TABLE: readonly KeyBinding[] = [
  { label: "T", does: "toggle positive/negative", keys: [{ key: "t" }], command: { kind: "toggle-mode" } },
  // napari's label-layer keys, where micro_sam's annotators paint: P paints (B as in most editors), E erases, [ ] size the brush.
  { label: "B/P", does: "brush on/off", keys: [{ key: "b" }, { key: "p" }], command: { kind: "tool", tool: "brush" } },
  { label: "E", does: "eraser on/off", keys: [{ key: "e" }], command: { kind: "tool", tool: "eraser" } },
  { label: "[", does: "smaller brush", keys: [{ key: "[" }], command: { kind: "brush-size", up: false } },
  { label: "]", does: "larger brush", keys: [{ key: "]" }], command: { kind: "brush-size", up: true } },
  { label: "Backspace/Del", does: "remove last", keys: [{ key: "Backspace" }, { key: "Delete" }], command: act({ type: "remove_last" }) },
  { label: "S", does: "segment", keys: [{ key: "s", shift: false }], command: act({ type: "segment" }) },
  { label: "C", does: "commit", keys: [{ key: "c", shift: false }], command: act({ type: "commit" }) },
  { label: "Shift+C", does: "clear", keys: [{ key: "c", shift: true }], command: act({ type: "clear" }) },
  { label: "Ctrl+Z", does: "undo", keys: [{ key: "z", ctrl: true, shift: false }], command: act({ type: "undo" }) },
  { label: "Ctrl+Shift+Z/Ctrl+Y", does: "redo", keys: [{ key: "z", ctrl: true, shift: true }, { key: "y", ctrl: true }], command: act({ type: "redo" }) },
  { label: "A", does: "segment everything (again to stop)", keys: [{ key: "a", shift: false }], command: { kind: "everything" } },
  { label: "Shift+S", does: "propagate", keys: [{ key: "s", shift: true }], command: act({ type: "propagate" }) },
  // Not a micro_sam key; napari's labels layer had F for its fill tool before its number keys, and the canvas has no fill.
  { label: "F", does: "re-propagate from this slice", keys: [{ key: "f", shift: false }], command: { kind: "repropagate" } },
  { label: "↑/→", does: "next slice", keys: [{ key: "ArrowUp" }, { key: "ArrowRight" }], command: { kind: "slice-step", by: 1 } },
  { label: "↓/←", does: "previous slice", keys: [{ key: "ArrowDown" }, { key: "ArrowLeft" }], command: { kind: "slice-step", by: -1 } },
  { label: "PgUp", does: "10 slices up", keys: [{ key: "PageUp" }], command: { kind: "slice-step", by: 10 } },
  { label: "PgDn", does: "10 slices down", keys: [{ key: "PageDown" }], command: { kind: "slice-step", by: -10 } },
  { label: "Home", does: "first slice", keys: [{ key: "Home" }], command: { kind: "slice-end", end: "first" } },
  { label: "End", does: "last slice", keys: [{ key: "End" }], command: { kind: "slice-end", end: "last" } },
  { label: "+/=", does: "zoom in", keys: [{ key: "+" }, { key: "=" }], command: { kind: "zoom", factor: 1.25 } },
  { label: "-", does: "zoom out", keys: [{ key: "-" }], command: { kind: "zoom", factor: 0.8 } },
  { label: "R", does: "reset view", keys: [{ key: "r" }], command: { kind: "reset-view" } },
  { label: "O", does: "outline only", keys: [{ key: "o" }], command: { kind: "toggle-outline" } },
  // SAM's three answers to a single click (candidates.ts); micro_sam's rule shows the best predicted IoU first.
  ...[1, 2, 3].map((token) => ({ label: String(token), does: `SAM's candidate ${token}`, keys: [{ key: String(token) }], command: act({ type: "pick_candidate", token }) })),
  { label: "Esc", does: "clear proposals, else leave", keys: [{ key: "Escape", ctrl: "any" }], command: { kind: "leave" } },
];

/** What the mouse does, for the help line (pointer input is input.ts's). */
export const POINTER_HELP: readonly { readonly label: string; readonly does: string }[] = [
  { label: "click", does: "point" },
  { label: "Shift/right click", does: "negative" },
  { label: "drag", does: "box, or paint with brush or eraser" },
  { label: "click a prompt", does: "delete" },
  { label: "click/Shift+click a proposal", does: "accept/drop it" },
  { label: "wheel", does: "zoom" },
  { label: "middle/Ctrl drag", does: "pan" },
  { label: "right drag", does: "window/level" },
];

/** The line under the canvas: the mouse, then every row of the key table. */
export function helpLine(): string {
  return [...POINTER_HELP, ...KEY_TABLE].map((h) => `${h.label}: ${h.does}`).join(" · ");
}

/** The parts of a KeyboardEvent the lookup reads. */
export interface KeyPress {
  readonly key: string;
  readonly shiftKey: boolean;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
}

function matches(p: KeyPattern, key: string, shift: boolean, ctrl: boolean): boolean {
  if (p.key !== key) return false;
  if (p.shift !== undefined && p.shift !== shift) return false;
  return p.ctrl === "any" || (p.ctrl === true) === ctrl;
}

/** The row of the table a key press triggers, if any (letters match in either case; Cmd counts as Ctrl). */
export function bindingFor(e: KeyPress): KeyBinding | undefined {
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const ctrl = e.ctrlKey || e.metaKey;
  return KEY_TABLE.find((b) => b.keys.some((p) => matches(p, key, e.shiftKey, ctrl)));
}
