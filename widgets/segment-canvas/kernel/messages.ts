/**
 * What a front end sends besides actions, checked: the `ref` of a message that failed its
 * checks (so its sender's busy indicator still stops), and state changes, of which only the
 * slice is a front end's to write.
 */
import type { WidgetChange } from "../../../kernel/jupyter/widgets/widget.js";
import { FRONTEND_WRITABLE, parseSlice, type ActionRef, type SegmentCanvasState } from "../common/state.js";

/** The (client, seq) of a message, when it has a usable one. */
export function refOf(content: unknown): ActionRef | null {
  if (content === null || typeof content !== "object") return null;
  const { client, seq } = content as { client?: unknown; seq?: unknown };
  return typeof client === "string" && client.length <= 64 && typeof seq === "number" && Number.isSafeInteger(seq) ? { client, seq } : null;
}

/**
 * Checks a front end's state change: a valid slice goes to `onSlice`; anything else is put
 * back (`revert`) and explained (`problems`).
 */
export function reviewFrontendChange(
  change: WidgetChange<SegmentCanvasState>,
  depth: number,
  onSlice: (z: number) => void,
): { revert: Partial<SegmentCanvasState>; problems: string[] } {
  const revert: Partial<SegmentCanvasState> = {};
  const problems: string[] = [];
  for (const key of Object.keys(change.changed) as (keyof SegmentCanvasState)[]) {
    if (!FRONTEND_WRITABLE.includes(key)) {
      (revert as Record<string, unknown>)[key] = change.previous[key];
      problems.push(`'${key}' is written by the kernel only`);
      continue;
    }
    if (key === "slice") {
      try {
        onSlice(parseSlice(change.changed.slice, depth));
      } catch (err) {
        revert.slice = change.previous.slice!;
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
  }
  return { revert, problems };
}
