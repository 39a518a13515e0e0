/**
 * State out: what the views are sent after each change. Only what changed travels: prompts
 * and the current mask when the history's present holds new ones, the label map when the
 * committed objects changed (which also triggers the autosave), and the status line.
 */
import type { Widget } from "../../../kernel/jupyter/widgets/widget.js";
import type { LabelStore } from "../common/labels.js";
import { encodeStack, type StackShape } from "../common/mask-codec.js";
import { canRedo, canUndo, present, type History } from "../common/reducer.js";
import type { ActionRef, CanvasStatus, ObjectSummary, SegmentCanvasState } from "../common/state.js";

export class Publisher {
  /** What was last sent, by identity: the reducer makes new objects only for what changed. */
  private published: { prompts?: unknown; current?: unknown; propagation?: unknown } = {};

  constructor(
    private readonly widget: Widget<SegmentCanvasState>,
    private readonly shape: StackShape,
    private readonly store: LabelStore,
    private readonly labelsChanged: () => void,
  ) {}

  publish(history: History, answers: { current: ActionRef | null; labels: ActionRef | null }, objects: () => ObjectSummary[]): void {
    if (this.widget.closed) return;
    const s = present(history);
    const patch: Partial<SegmentCanvasState> = {
      can_undo: canUndo(history),
      can_redo: canRedo(history),
      next_label: s.nextLabel,
    };
    if (s.prompts !== this.published.prompts) {
      patch.prompts = { points: s.prompts.points.map((p) => ({ ...p })), boxes: s.prompts.boxes.map((b) => ({ ...b })) };
      this.published.prompts = s.prompts;
    }
    if (s.current !== this.published.current) {
      const rles = new Map<number, Uint8Array>();
      for (const [z, m] of s.current) rles.set(z, m.rle);
      patch.current = encodeStack(this.shape, rles);
      patch.current_for = answers.current;
      this.published.current = s.current;
    }
    if (s.propagation !== this.published.propagation) {
      patch.propagation = s.propagation ?? null;
      this.published.propagation = s.propagation;
    }
    if (this.store.sync(s.objects)) {
      patch.labels = this.store.encode();
      patch.objects = objects();
      patch.labels_for = answers.labels;
      this.labelsChanged();
    }
    this.widget.set(patch);
  }
}

export interface ActivityNow {
  /** The propagation's progress line, while one runs. */
  readonly propagation: string | undefined;
  /** The automatic generator's progress line, while it runs. */
  readonly proposing?: string | undefined;
  /** A status the decoder loop is in right now ("embedding" while it waits for its slice). */
  readonly force: CanvasStatus | undefined;
  readonly segmenting: boolean;
  /** The slice being embedded, if any. */
  readonly embedding: number | undefined;
  readonly shownSlice: number;
  readonly depth: number;
}

/** The status and the line under the canvas for what is going on. */
export function statusLine(a: ActivityNow): { status: CanvasStatus; status_text: string } {
  const busy = a.embedding;
  let status: CanvasStatus = "ready";
  let text = "";
  if (a.propagation !== undefined) return { status: "propagating", status_text: a.propagation };
  if (a.proposing !== undefined) return { status: "proposing", status_text: `${a.proposing} (A or Esc: stop)` };
  if (a.force) status = a.force;
  else if (a.segmenting) status = "segmenting";
  else if (busy !== undefined && busy === a.shownSlice) status = "embedding";
  if (status === "embedding" || (busy !== undefined && status === "ready")) {
    text = busy === undefined ? "" : a.depth > 1 ? `embedding slice ${busy}${busy === a.shownSlice ? "" : " (background)"}…` : "embedding the image…";
  } else if (status === "segmenting") {
    text = "segmenting…";
  }
  return { status, status_text: text };
}
