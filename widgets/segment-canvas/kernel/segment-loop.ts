/**
 * The decoder loop: segments every slice whose mask does not answer its prompts, the shown
 * slice first, until none is left. At most one decoder run is in flight and the latest
 * prompts always win: a result for prompts that changed meanwhile is dropped by the reducer
 * and the loop goes round again.
 */
import type { Prompt } from "../../../kernel/sam/prompt.js";
import type { SegmentResult } from "../../../kernel/sam/segment-result.js";
import type { MultimaskMode } from "../../../kernel/sam/select.js";
import { encodeRle } from "../common/mask-codec.js";
import { promptKey, promptsOnSlice, staleSlices, type ResultAction, type Snapshot } from "../common/reducer.js";
import { ActionError, type ActionRef, type CanvasStatus } from "../common/state.js";
import type { SliceEmbedder } from "./embedder.js";
import type { CanvasModel } from "./types.js";

/** Decoder timings kept (`w.timings.decoderMs`), as many as history entries. */
export const MAX_TIMINGS = 5000;

/** What the loop reads from and writes to the canvas. */
export interface SegmentLoopHost {
  snapshot(): Snapshot;
  /** The action the next result answers (for the view's latency measurement). */
  latestRef(): ActionRef | null;
  shownSlice(): number;
  /** Applies a decoder result to the history (dropped there when the prompts moved on); `full` is the decoder's whole answer (its candidates). */
  applyResult(result: ResultAction, ref: ActionRef | null, full: SegmentResult): void;
  status(force?: CanvasStatus): void;
  report(err: unknown): void;
}

export class SegmentLoop {
  /** Milliseconds of each decoder call, oldest first. */
  readonly decoderMs: number[] = [];
  private running: Promise<void> | undefined;
  private rerun = false;

  constructor(
    private readonly host: SegmentLoopHost,
    private readonly model: CanvasModel,
    private readonly embedder: SliceEmbedder,
    private readonly multimask: MultimaskMode | undefined,
  ) {}

  /** The loop's run, while it runs. */
  get active(): Promise<void> | undefined {
    return this.running;
  }

  /** Starts the loop, or asks the running one to go round again. */
  kick(): void {
    if (this.running) {
      // The running loop re-reads the prompts each round; this flag covers a request that
      // arrives after its last look but before it has finished.
      this.rerun = true;
      return;
    }
    this.rerun = false;
    this.running = this.segmentStale()
      .catch((err: unknown) => this.host.report(err))
      .finally(() => {
        this.running = undefined;
        if (this.rerun) this.kick();
        this.host.status();
      });
    this.host.status();
  }

  /** Runs the loop to the end (whatever autoSegment says): commit and propagation need fresh masks. */
  async settle(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
    const stale = staleSlices(this.host.snapshot());
    if (stale.length > 0) throw new ActionError(`could not segment slice ${stale.join(", ")}; see the error above, change the prompts and try again`);
  }

  private async segmentStale(): Promise<void> {
    for (;;) {
      this.rerun = false;
      const s = this.host.snapshot();
      const stale = staleSlices(s);
      if (stale.length === 0) return;
      const shown = this.host.shownSlice();
      const z = stale.includes(shown) ? shown : stale[0]!;
      const key = promptKey(s.prompts, z);
      const ref = this.host.latestRef();
      const { points, box } = promptsOnSlice(s.prompts, z);
      this.host.status(this.embedder.has(z) ? "segmenting" : "embedding");
      const embedding = await this.embedder.get(z);
      this.host.status("segmenting");
      const prompt: Prompt = {
        ...(points.length ? { points: points.map((p) => ({ x: p.x, y: p.y, positive: p.positive })) } : {}),
        ...(box ? { box: { x0: box.x0, y0: box.y0, x1: box.x1, y1: box.y1 } } : {}),
      };
      let result: SegmentResult;
      const t0 = performance.now();
      try {
        result = await this.model.segment(embedding, prompt, this.multimask ? { multimask: this.multimask } : {});
      } catch (err) {
        throw new Error(`segmenting slice ${z} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      this.decoderMs.push(performance.now() - t0);
      if (this.decoderMs.length > MAX_TIMINGS) this.decoderMs.splice(0, this.decoderMs.length - MAX_TIMINGS);
      this.host.applyResult({ type: "result", z, key, rle: encodeRle(result.mask) }, ref, result);
    }
  }
}
