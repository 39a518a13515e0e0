/**
 * "Segment everything" on the canvas (key A, `w.segmentEverything()`): segment_anything's
 * automatic mask generator (kernel/automatic) on the shown slice's embedding; its masks become
 * proposals drawn as outlines, which the user accepts (the next committed object) or drops.
 *
 * The run happens outside the canvas's action queue: it takes tens of seconds on a small CPU,
 * and clicks, undo and the stop request must go on meanwhile. One generator is kept per
 * canvas (and per set of options), so its decoder sessions are loaded once.
 *
 * Proposals are not undo steps; an accepted one is an ordinary committed object, which undo
 * removes like any other. While the history's present includes the snapshot its acceptance
 * made, the proposal is hidden; undo brings it back, redo hides it again.
 */
import { AutomaticMaskGenerator, type MaskRecord } from "../../../kernel/automatic/generator.js";
import type { AutomaticOptions } from "../../../kernel/automatic/options.js";
import type { Embedding } from "../../../kernel/sam/embedding.js";
import { SamModel } from "../../../kernel/sam/model.js";
import { decodeRle, encodeRle, toBase64 } from "../common/mask-codec.js";
import type { History, Snapshot } from "../common/reducer.js";
import { ActionError, type WireProposal } from "../common/state.js";
import type { CanvasModel } from "./types.js";

/** What the canvas may set for its runs: the generator's options (the signal and progress are the canvas's). */
export type CanvasAutomaticOptions = Omit<AutomaticOptions, "signal" | "onProgress" | "intensity">;

/**
 * The canvas's defaults: SAM's, except for the shipped demo model, whose IoU head never
 * predicts much above 0.8 (with SAM's 0.88 / 0.95 it keeps nothing; notebooks/06-automatic
 * and the CLI's README example use the same 0.5 / 0.8).
 */
export function defaultAutomaticOptions(model: CanvasModel): CanvasAutomaticOptions {
  return model.name === "demo" ? { predIouThresh: 0.5, stabilityScoreThresh: 0.8 } : {};
}

/** A proposal as the kernel keeps it: the record's numbers, the mask as the canvas's RLE. */
export interface CanvasProposal {
  readonly id: number;
  readonly z: number;
  /** mask-codec RLE of the 0/1 slice (shared with the committed object once accepted). */
  readonly rle: Uint8Array;
  readonly area: number;
  readonly bbox: [number, number, number, number];
  readonly predictedIou: number;
  readonly stabilityScore: number;
  /** The grid point that produced it (slice pixels). */
  readonly point: [number, number];
}

/** What `w.proposals` lists. */
export type ProposalSummary = Omit<CanvasProposal, "rle"> & {
  /** The 0/1 mask of its slice (row-major, the displayed slice), decoded when asked for. */
  mask(): Uint8Array;
};

export interface ProposalHost {
  readonly model: CanvasModel;
  /** Pixels of a displayed slice. */
  readonly slicePixels: number;
  embed(z: number): Promise<Embedding>;
  /** The history now: an accepted proposal is hidden while its snapshot is in the present's past. */
  history(): History;
  /** The visible proposals changed, or the run's progress: publish them. */
  changed(): void;
}

export class Proposals {
  private list: CanvasProposal[] = [];
  private nextId = 1;
  /** Snapshot each accepted proposal's acceptance made. */
  private readonly accepted = new Map<number, Snapshot>();
  private generator: { key: string; generator: AutomaticMaskGenerator } | undefined;
  private current: { controller: AbortController; done: Promise<unknown> } | undefined;
  /** "segment everything: 256/1024 points" while a run goes on. */
  progress: string | undefined;
  private published = "";

  constructor(
    private readonly host: ProposalHost,
    private readonly defaults: CanvasAutomaticOptions,
  ) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  /**
   * Runs the generator on slice z (stopping a run in progress); the proposals replace the
   * previous ones. Resolves with them; rejects when stopped (an AbortError) or on failure.
   */
  run(z: number, options: CanvasAutomaticOptions = {}): Promise<ProposalSummary[]> {
    // Checked before anything starts, and thrown at once: the action that asked fails with the message.
    const model = this.host.model;
    if (!(model instanceof SamModel)) throw new ActionError("segment everything needs a model loaded with loadModel (its ONNX decoder runs the generator)");
    const merged: CanvasAutomaticOptions = { ...this.defaults, ...options };
    if ((merged.cropNLayers ?? 0) > 0) throw new ActionError("the canvas runs the generator on the slice's embedding: cropNLayers must be 0 (use generateMasks on the image for crops)");
    return this.start(model, z, merged);
  }

  private async start(model: SamModel, z: number, merged: CanvasAutomaticOptions): Promise<ProposalSummary[]> {
    await this.stop();
    const generator = this.generatorFor(model, merged);
    const controller = new AbortController();
    const work = (async () => {
      this.list = [];
      this.accepted.clear();
      this.progress = "segment everything: embedding…";
      this.changed();
      const embedding = await this.host.embed(z);
      controller.signal.throwIfAborted();
      const records = await generator.generate(embedding, {
        signal: controller.signal,
        onProgress: (done, total) => {
          this.progress = `segment everything: ${done}/${total} points`;
          this.host.changed();
        },
      });
      controller.signal.throwIfAborted();
      this.list = records.map((r) => this.proposalOf(r, z));
      return this.summaries();
    })();
    const entry = { controller, done: work.catch(() => undefined) };
    this.current = entry;
    try {
      return await work;
    } finally {
      if (this.current === entry) {
        this.current = undefined;
        this.progress = undefined;
        this.changed();
      }
    }
  }

  /** Stops a run in progress (its promise rejects); resolves once it has stopped. */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c) return;
    c.controller.abort(new DOMException("segment everything was stopped", "AbortError"));
    await c.done;
  }

  /** Stops a run and drops every proposal. */
  async clear(): Promise<void> {
    await this.stop();
    this.list = [];
    this.accepted.clear();
    this.changed();
  }

  /** The proposal `id` if it is shown (not dropped, not accepted in the present). */
  get(id: number): CanvasProposal {
    const p = this.visible().find((q) => q.id === id);
    if (!p) throw new ActionError(`there is no proposal ${id} (accepted, dropped, or replaced by a new run)`);
    return p;
  }

  /** Records that proposal `id` was accepted by the history's present snapshot. */
  markAccepted(id: number): void {
    const h = this.host.history();
    this.accepted.set(id, h.snapshots[h.index]!);
    this.changed();
  }

  drop(id: number): void {
    this.get(id);
    this.list = this.list.filter((p) => p.id !== id);
    this.changed();
  }

  visible(): CanvasProposal[] {
    const h = this.host.history();
    return this.list.filter((p) => {
      const snap = this.accepted.get(p.id);
      if (!snap) return true;
      const at = h.snapshots.indexOf(snap);
      return at < 0 || at > h.index;
    });
  }

  summaries(): ProposalSummary[] {
    return this.visible().map(({ rle, ...rest }) => ({ ...rest, mask: () => decodeRle(rle, this.host.slicePixels) }));
  }

  /** The visible proposals for the synced state, when they differ from what was sent last. */
  wire(): WireProposal[] | undefined {
    const visible = this.visible();
    const key = visible.map((p) => p.id).join(",");
    if (key === this.published) return undefined;
    this.published = key;
    return visible.map((p) => ({ id: p.id, z: p.z, mask: toBase64(p.rle), area: p.area, bbox: p.bbox, predicted_iou: p.predictedIou, stability_score: p.stabilityScore }));
  }

  async dispose(): Promise<void> {
    await this.stop();
    const g = this.generator;
    this.generator = undefined;
    await g?.generator.dispose();
  }

  private changed(): void {
    this.host.changed();
  }

  private generatorFor(model: SamModel, options: CanvasAutomaticOptions): AutomaticMaskGenerator {
    const key = JSON.stringify(options);
    if (this.generator?.key !== key) {
      const old = this.generator;
      // The old one's run has stopped (run() awaits stop() first): its sessions can go.
      if (old) void old.generator.dispose();
      this.generator = { key, generator: new AutomaticMaskGenerator(model, options) };
    }
    return this.generator.generator;
  }

  private proposalOf(r: MaskRecord, z: number): CanvasProposal {
    return {
      id: this.nextId++,
      z,
      rle: encodeRle(r.segmentation),
      area: r.area,
      bbox: r.bbox,
      predictedIou: r.predicted_iou,
      stabilityScore: r.stability_score,
      point: r.point_coords[0],
    };
  }
}
