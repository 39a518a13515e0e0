/**
 * What one view of the canvas holds, shared by the modules that draw it (draw.ts), fill its
 * controls (panel.ts), take input (input.ts) and follow the model (render.ts). Created by
 * render(); nothing here outlives the view.
 */
import type { SliceStack } from "../common/mask-codec.js";
import type { Action, SegmentCanvasState, WindowLevel } from "../common/state.js";
import type { Samples } from "./compose.js";
import type { ProposalLayer } from "./proposals.js";
import type { CanvasDom } from "./dom.js";
import type { Viewport } from "./viewport.js";

/** The parts of a widget model the view uses (Backbone models and anywidget's model both fit). */
export interface ModelLike {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: (...args: unknown[]) => void): void;
  off(event: string, callback: (...args: unknown[]) => void): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

/** A pointer drag in progress: a box (left), a pan (middle or Ctrl), window/level (right), a brush stroke (left with the brush or eraser). */
export interface Drag {
  kind: "box" | "pan" | "right" | "paint";
  pointerId: number;
  startX: number;
  startY: number;
  lastX: number;
  lastY: number;
  moved: boolean;
  shift: boolean;
}

export type Tool = "prompt" | "brush" | "eraser";

/**
 * A brush or eraser stroke being drawn: its footprint grows in `mask` as the pointer moves and
 * goes to the kernel once, run-length encoded, when the pointer is released.
 */
export interface Stroke {
  readonly z: number;
  /** 0 = the current object, else a committed label. */
  readonly target: number;
  readonly erase: boolean;
  readonly mask: Uint8Array;
  /** Last pointer position in image pixels (fractional). */
  last: { x: number; y: number };
  /** Time spent stamping since the last frame, and each frame's work (stamping + drawing), in ms. */
  workMs: number;
  readonly frames: number[];
}

/** The image as the kernel sent it, decoded. */
export interface ShownImage {
  width: number;
  height: number;
  depth: number;
  channels: number;
  /** Screen height of a pixel over its width. */
  aspect: number;
  samples: Samples;
  labels: SliceStack | undefined;
  current: SliceStack | undefined;
}

/** What this view decides on its own (never sent, except the slice). */
export interface LocalState {
  positiveMode: boolean;
  win: WindowLevel;
  opacity: number;
  outlineOnly: boolean;
  slice: number;
  view: Viewport;
  /** False until the view is fitted to the stage (again after a resize or new pixels). */
  fitted: boolean;
  drag: Drag | undefined;
  /** The pixel under the pointer, and the pointer in pixel units (pixel centres at integers). */
  hover: { x: number; y: number; fx: number; fy: number } | undefined;
  /** error_seq of the error the user closed. */
  dismissedError: number;
  tool: Tool;
  /** Brush radius in image pixels. */
  brushRadius: number;
  /** What the brush paints: 0 = the current object, else a committed label (picked in the objects list). */
  brushTarget: number;
  stroke: Stroke | undefined;
  /** Labels the user hid (drawn neither filled nor outlined; still in `w.labels`). */
  hidden: Set<number>;
}

export interface CanvasContext {
  readonly doc: Document;
  readonly model: ModelLike;
  readonly dom: CanvasDom;
  readonly image: ShownImage;
  readonly local: LocalState;
  /** The automatic generator's proposals (outlines; a click accepts or drops one). */
  readonly proposals: ProposalLayer;
  get<K extends keyof SegmentCanvasState>(key: K): SegmentCanvasState[K];
  /** Decoded label ids / current mask of slice z (cached until the model changes them). */
  labelSlice(z: number): Uint16Array | undefined;
  currentSlice(z: number): Uint8Array | undefined;
  /** Sends an action to the kernel. */
  act(action: Action): void;
  setSlice(z: number): void;
  /** Redraws at the next frame; `refresh` also recomposes the overlay. */
  schedule(): void;
  refresh(): void;
  /** The stage's size in CSS px. */
  stageSize(): { w: number; h: number };
  /** Fits the image to the stage. */
  fit(): void;
}
