/**
 * The segmentation canvas, kernel side: `const w = segmentCanvas(model, image)` in a cell.
 *
 * The browser sends actions (clicks, boxes, commit, undo, ...); this side checks them, applies
 * them to the undo history (reducer.ts), runs the decoder against the cached embedding of the
 * slice, and syncs prompts and masks back as compact binary. Notebook code sees the same
 * objects: `w.labels`, `w.current`, `w.prompts`, `w.history`, `w.onCommit`, `await w.nextCommit()`,
 * `await w.save(path)`, and can drive the widget with the same actions (`await w.addPoint(x, y)`).
 *
 * Robustness rules, because this is where a user's work lives:
 * - a comm handler never awaits model work: it queues the action and returns, so the kernel
 *   keeps answering (and the front end gets its idle) while the encoder runs;
 * - anything a front end sends is validated; a bad message is reported in the widget and
 *   changes nothing; a decoder or encoder failure is reported the same way;
 * - committed objects live in the history, not in synced state, so no front end, reload or
 *   failure can change them; only a user's undo/remove can.
 */
import { LABEL_COLORS } from "../../../kernel/display/overlay.js";
import type { Image2D } from "../../../kernel/io/image.js";
import type { ViewName } from "../../../kernel/io/volume-view.js";
import { propagate as propagateThroughVolume, type PropagateOptions } from "../../../kernel/interactive/propagate.js";
import { WINDOW_PRESETS, windowPreset } from "../../../kernel/intensity/presets.js";
import type { IntensitySpec } from "../../../kernel/intensity/spec.js";
import type { KernelRuntime } from "../../../kernel/jupyter/runtime.js";
import { DISPLAY_SYMBOL, type Displayable, type MimeBundle } from "../../../kernel/jupyter/display.js";
import { Widget, type WidgetChange } from "../../../kernel/jupyter/widgets/widget.js";
import type { Embedding } from "../../../kernel/sam/embedding.js";
import type { Prompt } from "../../../kernel/sam/prompt.js";
import type { SegmentResult } from "../../../kernel/sam/segment-result.js";
import type { MultimaskMode } from "../../../kernel/sam/select.js";
import { SliceEmbedder } from "./embedder.js";
import { LabelStore } from "../shared/labels.js";
import { decodeRle, encodeRle, encodeStack } from "../shared/mask-codec.js";
import {
  canRedo,
  canUndo,
  initialHistory,
  present,
  promptKey,
  promptsOnSlice,
  reduce,
  staleSlices,
  type History,
  type ReducerAction,
} from "../shared/reducer.js";
import { saveLabels, type SaveResult } from "./save.js";
import { canvasSource, type CanvasInput, type CanvasSource } from "./source.js";
import {
  ActionError,
  FRONTEND_WRITABLE,
  MODEL_NAME,
  MODULE_NAME,
  MODULE_SEMVER,
  VIEW_NAME,
  parseAction,
  parseActionMessage,
  parseSlice,
  type Action,
  type ActionRef,
  type CanvasStatus,
  type NamedWindow,
  type ObjectSummary,
  type SegmentCanvasState,
  type WindowLevel,
  type WirePrompts,
} from "../shared/state.js";

/** What the canvas needs from a model: `SamModel` satisfies it. */
export interface CanvasModel {
  embed(image: Image2D, options?: { intensity?: IntensitySpec }): Promise<Embedding>;
  segment(embedding: Embedding, prompt: Prompt, options?: { multimask?: MultimaskMode }): Promise<SegmentResult>;
  readonly notice?: string | undefined;
  readonly name?: string;
}

/**
 * Propagates the current object from the slices that have a mask to the rest of the volume.
 * Returns z -> 0/1 mask (row-major, display slice) for the slices it filled.
 */
export type Propagator = (args: {
  model: CanvasModel;
  embed: (z: number) => Promise<Embedding>;
  depth: number;
  width: number;
  height: number;
  /** z -> 0/1 masks of the slices the user segmented (the seeds). */
  seeds: ReadonlyMap<number, Uint8Array>;
  /** Called after each slice is decided, for the progress line. */
  progress: (z: number, done: number) => void;
}) => Promise<Map<number, Uint8Array>>;

/**
 * micro_sam's `segment_mask_in_volume` (kernel/interactive/propagate.ts) with its napari
 * defaults: from the seeds outward, each slice prompted with the previous slice's mask, until
 * the IoU with the previous slice drops below 0.5, the mask is empty, or the volume ends.
 */
export function volumePropagator(options: Omit<PropagateOptions, "onSlice"> = {}): Propagator {
  return async ({ model, embed, depth, width, height, seeds, progress }) => {
    let done = 0;
    const result = await propagateThroughVolume(
      { depth, width, height, get: embed },
      model,
      [...seeds].map(([z, mask]) => ({ z, mask })),
      { ...options, onSlice: (s) => progress(s.z, ++done) },
    );
    return result.masks;
  };
}

export interface SegmentCanvasOptions {
  /** For volumes: the view to show (default axial). */
  view?: ViewName;
  /** Slice shown first (default: the middle one). */
  slice?: number;
  /** Encoder input normalization (default: the model's). The display window does not change it. */
  intensity?: IntensitySpec;
  /** First display window: {level, width} or a preset name ("abdomen", "lung", ...). Default: the full value range. */
  window?: WindowLevel | string;
  multimask?: MultimaskMode;
  /** Segment on every prompt change (default true); otherwise only on S / `w.segment()`. */
  autoSegment?: boolean;
  /** Neighbour slices to embed in the background on each side of the shown one (default 2). */
  prefetch?: number;
  /** Shift+S / `w.propagate()` for volumes: default `volumePropagator()`; false turns it off. */
  propagate?: Propagator | false;
  /**
   * Writes the committed labels to this file (as `save` does) after every change to them, so a
   * kernel crash or a re-run cell loses nothing that was committed.
   */
  autosave?: string;
  title?: string;
  /** The kernel to talk to (tests); default the running one. */
  runtime?: KernelRuntime;
}

export interface CommitEvent {
  readonly label: number;
  readonly voxels: number;
  /** Display slices the object covers. */
  readonly slices: readonly number[];
  readonly prompts: WirePrompts;
  /** The object's 0/1 mask in the source's layout (image rows, or voxel order for volumes). */
  mask(): Uint8Array;
}

export interface HistoryEntry {
  readonly time: Date;
  readonly origin: "frontend" | "kernel";
  readonly action: Action;
  readonly ok: boolean;
  readonly error?: string;
}

const KERNEL_CLIENT = "kernel";
const AUTOSAVE_DELAY_MS = 300;
/** Entries kept in `w.history` (the log; the undo history is separate and capped on its own). */
const MAX_LOG = 5000;

function defaultWindow(source: CanvasSource, requested: SegmentCanvasOptions["window"]): WindowLevel {
  if (typeof requested === "string") {
    const preset = windowPreset(requested);
    if (!preset) throw new Error(`unknown window preset '${requested}'; choose one of ${Object.keys(WINDOW_PRESETS).join(", ")}, or pass {level, width}`);
    return { level: preset.level, width: preset.width };
  }
  if (requested) {
    if (!Number.isFinite(requested.level) || !(requested.width > 0)) throw new Error(`window needs a finite level and a width > 0, got ${JSON.stringify(requested)}`);
    return { level: requested.level, width: requested.width };
  }
  if (source.dtype === "uint8") return { level: 127.5, width: 255 };
  const [lo, hi] = source.valueRange;
  return { level: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6) };
}

function windowPresets(source: CanvasSource): NamedWindow[] {
  const [lo, hi] = source.valueRange;
  const out: NamedWindow[] = [{ name: "full range", level: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6) }];
  // CT windows only make sense for Hounsfield units: air at -1000 shows as a minimum far below 0.
  if (lo <= -500) for (const [name, p] of Object.entries(WINDOW_PRESETS)) out.push({ name, level: p.level, width: p.width });
  return out;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Holds a widget (the comm and synced state) rather than being one: the notebook API stays
 * small and reads like the task (labels, current, commit), and the raw state stays internal.
 */
export class SegmentCanvas implements Displayable {
  /** The synced ipywidgets model behind the canvas (state, comm); for tests and advanced use. */
  readonly widget: Widget<SegmentCanvasState>;
  private historyState: History = initialHistory();
  private readonly store: LabelStore;
  private readonly embedder: SliceEmbedder;
  private readonly log: HistoryEntry[] = [];
  private readonly decoderMs: number[] = [];
  private readonly commitListeners = new Set<(event: CommitEvent) => void>();
  private chain: Promise<unknown> = Promise.resolve();
  private segmentation: Promise<void> | undefined;
  private rerun = false;
  private latestRef: ActionRef | null = null;
  private currentFor: ActionRef | null = null;
  private published: { prompts?: unknown; current?: unknown } = {};
  private kernelSeq = 0;
  private propagating = false;
  private propagationText = "";
  private readonly autoSegment: boolean;
  private readonly prefetchRadius: number;

  /** Use `segmentCanvas(model, image, options)`. */
  constructor(
    readonly model: CanvasModel,
    readonly source: CanvasSource,
    private readonly options: SegmentCanvasOptions,
    initial: SegmentCanvasState,
  ) {
    this.widget = new Widget<SegmentCanvasState>(
      {
        _model_module: MODULE_NAME,
        _model_module_version: MODULE_SEMVER,
        _model_name: MODEL_NAME,
        _view_module: MODULE_NAME,
        _view_module_version: MODULE_SEMVER,
        _view_name: VIEW_NAME,
      },
      initial,
      options.runtime ? { runtime: options.runtime } : {},
    );
    this.autoSegment = options.autoSegment ?? true;
    this.prefetchRadius = options.prefetch ?? 2;
    this.store = new LabelStore(source);
    this.embedder = new SliceEmbedder(
      model,
      (z) => source.sliceImage(z),
      source.depth,
      options.intensity,
      () => this.refreshStatus(),
    );
    this.widget.onCustom((content) => {
      this.onMessage(content);
    });
    this.widget.onChange((change) => this.frontendChange(change));
    this.warmUp(initial.slice);
  }

  // ---- notebook API --------------------------------------------------------------------------

  get modelId(): string {
    return this.widget.modelId;
  }
  get closed(): boolean {
    return this.widget.closed;
  }
  /** Shows (another) view of the canvas in the current cell's output. */
  display(): void {
    this.widget.display();
  }
  /** Removes the views; `labels`, `objects` and `save` keep working. */
  close(): void {
    this.widget.close();
  }
  [DISPLAY_SYMBOL](): MimeBundle {
    const bundle = this.widget[DISPLAY_SYMBOL]();
    const size = this.depth > 1 ? `${this.width}x${this.height}x${this.depth}` : `${this.width}x${this.height}`;
    return { ...bundle, "text/plain": `SegmentCanvas(${size}, ${this.objects.length} objects, model_id='${this.modelId}')` };
  }

  get width(): number {
    return this.source.width;
  }
  get height(): number {
    return this.source.height;
  }
  get depth(): number {
    return this.source.depth;
  }
  get slice(): number {
    return this.widget.get("slice");
  }

  /** Committed labels in the source's layout (image rows, or voxel order i fastest for volumes); 0 = background. */
  get labels(): Uint16Array {
    const slices = new Map<number, Uint16Array>();
    for (const z of this.store.touched) slices.set(z, this.store.slice(z)!);
    return this.source.toSourceLayout(slices, (n) => new Uint16Array(n));
  }

  /** The object being segmented (0/1, source layout), or null when nothing is segmented yet. */
  get current(): Uint8Array | null {
    const s = present(this.historyState);
    if (s.current.size === 0) return null;
    const n = this.width * this.height;
    const slices = new Map<number, Uint8Array>();
    for (const [z, m] of s.current) slices.set(z, decodeRle(m.rle, n));
    return this.source.toSourceLayout(slices, (k) => new Uint8Array(k));
  }

  /** Prompts of the object being segmented (x = column, y = row, z = slice of the view). */
  get prompts(): WirePrompts {
    return present(this.historyState).prompts;
  }

  get objects(): ObjectSummary[] {
    return present(this.historyState).objects.map((o) => ({ label: o.label, voxels: o.voxels, slices: [...o.slices.keys()] }));
  }

  /** Milliseconds of each decoder call (prompt to mask, in the kernel), oldest first: where click latency goes. */
  get timings(): { readonly decoderMs: readonly number[] } {
    return { decoderMs: this.decoderMs };
  }

  /** Every action applied or rejected, oldest first. */
  get history(): readonly HistoryEntry[] {
    return this.log;
  }

  /** Calls `listener` after each commit (from the browser or from code). Returns a function that removes it. */
  onCommit(listener: (event: CommitEvent) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Resolves at the next commit: `const obj = await w.nextCommit()` waits for the user to press C. */
  nextCommit(): Promise<CommitEvent> {
    return new Promise((resolve) => {
      const off = this.onCommit((e) => {
        off();
        resolve(e);
      });
    });
  }

  /** Writes the committed labels: NIfTI with the source geometry for volumes; PNG or NIfTI for 2D images. */
  async save(path: string): Promise<SaveResult> {
    await this.settled();
    return saveLabels(path, this.source, this.labels);
  }

  addPoint(x: number, y: number, options: { positive?: boolean; z?: number } = {}): Promise<void> {
    return this.api({ type: "add_point", x, y, z: options.z ?? this.slice, positive: options.positive ?? true }).then(() => undefined);
  }
  setBox(box: { x0: number; y0: number; x1: number; y1: number }, options: { z?: number } = {}): Promise<void> {
    return this.api({ type: "set_box", ...box, z: options.z ?? this.slice }).then(() => undefined);
  }
  removeLast(): Promise<void> {
    return this.api({ type: "remove_last" }).then(() => undefined);
  }
  clear(): Promise<void> {
    return this.api({ type: "clear" }).then(() => undefined);
  }
  undo(): Promise<void> {
    return this.api({ type: "undo" }).then(() => undefined);
  }
  redo(): Promise<void> {
    return this.api({ type: "redo" }).then(() => undefined);
  }
  segment(): Promise<void> {
    return this.api({ type: "segment" }).then(() => undefined);
  }
  propagate(): Promise<void> {
    return this.api({ type: "propagate" }).then(() => undefined);
  }
  removeObject(label: number): Promise<void> {
    return this.api({ type: "remove_object", label }).then(() => undefined);
  }
  async commit(): Promise<CommitEvent> {
    const event = await this.api({ type: "commit" });
    return event!;
  }

  /** Shows slice z (and embeds it and its neighbours in the background). */
  setSlice(z: number): void {
    this.widget.set({ slice: parseSlice(z, this.depth) });
    this.sliceChanged(z);
  }

  /** Resolves when every queued action is applied, every mask is up to date and no slice is being embedded. */
  async whenIdle(): Promise<void> {
    for (;;) {
      await this.settled();
      await this.embedder.idle();
      if (!this.busy) return;
    }
  }

  /** Queued actions applied and masks up to date; background embedding may go on. */
  private async settled(): Promise<void> {
    while (this.busy) {
      await this.chain.catch(() => undefined);
      if (this.segmentation) await this.segmentation.catch(() => undefined);
    }
  }

  private pendingActions = 0;

  private get busy(): boolean {
    return this.pendingActions > 0 || this.segmentation !== undefined;
  }

  // ---- messages ------------------------------------------------------------------------------

  /** A custom message from a front end: checked here, applied in order, never awaited by the comm. */
  private onMessage(content: unknown): void {
    let message;
    try {
      message = parseActionMessage(content, this.source);
    } catch (err) {
      const ref = refOf(content);
      this.report(err, ref);
      if (ref) this.widget.set({ ack: ref });
      return;
    }
    void this.enqueue(message.action, { client: message.client, seq: message.seq }, "frontend").catch(() => undefined);
  }

  private api(raw: Action): Promise<CommitEvent | undefined> {
    let action: Action;
    try {
      action = parseAction(raw, this.source);
    } catch (err) {
      this.report(err, null);
      return Promise.reject(err);
    }
    const p = this.enqueue(action, { client: KERNEL_CLIENT, seq: ++this.kernelSeq }, "kernel");
    return p.then(async (event) => {
      if (this.autoSegment || action.type === "segment") await this.settled();
      return event;
    });
  }

  /** Applies actions one at a time, in arrival order. */
  private enqueue(action: Action, ref: ActionRef, origin: HistoryEntry["origin"]): Promise<CommitEvent | undefined> {
    const run = async (): Promise<CommitEvent | undefined> => {
      try {
        const event = await this.apply(action, ref);
        this.record({ time: new Date(), origin, action, ok: true });
        if (this.widget.get("error") !== "" && origin === "frontend") this.widget.set({ error: "" });
        return event;
      } catch (err) {
        this.record({ time: new Date(), origin, action, ok: false, error: errorText(err) });
        this.report(err, ref);
        throw err;
      } finally {
        if (!this.widget.closed) this.widget.set({ ack: ref });
      }
    };
    this.pendingActions++;
    const p = this.chain.then(run, run).finally(() => this.pendingActions--);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async apply(action: Action, ref: ActionRef): Promise<CommitEvent | undefined> {
    this.latestRef = ref;
    switch (action.type) {
      case "segment":
        this.kick();
        return undefined;
      case "propagate":
        await this.runPropagation(ref);
        return undefined;
      case "commit": {
        await this.settle();
        this.change(action, ref);
        const s = present(this.historyState);
        const object = s.objects[s.objects.length - 1]!;
        const event = this.commitEvent(object.label);
        for (const listener of [...this.commitListeners]) {
          try {
            listener(event);
          } catch (err) {
            this.report(new Error(`an onCommit listener failed: ${errorText(err)}`), null);
          }
        }
        return event;
      }
      default:
        this.change(action, ref);
        if (this.autoSegment) this.kick();
        return undefined;
    }
  }

  private change(action: ReducerAction, ref: ActionRef): void {
    const before = this.historyState;
    const beforeCurrent = present(before).current;
    this.historyState = reduce(before, action);
    if (present(this.historyState).current !== beforeCurrent) this.currentFor = ref;
    this.publish();
  }

  private commitEvent(label: number): CommitEvent {
    const object = present(this.historyState).objects.find((o) => o.label === label)!;
    const n = this.width * this.height;
    return {
      label,
      voxels: object.voxels,
      slices: [...object.slices.keys()],
      prompts: object.prompts,
      mask: () => {
        const slices = new Map<number, Uint8Array>();
        for (const [z, rle] of object.slices) slices.set(z, decodeRle(rle, n));
        return this.source.toSourceLayout(slices, (k) => new Uint8Array(k));
      },
    };
  }

  private record(entry: HistoryEntry): void {
    this.log.push(entry);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
  }

  /** Shows an error in every view (and keeps the kernel running). */
  private report(err: unknown, _ref: ActionRef | null): void {
    if (this.widget.closed) return;
    this.widget.set({ error: errorText(err), error_seq: this.widget.get("error_seq") + 1 });
  }

  private frontendChange(change: WidgetChange<SegmentCanvasState>): void {
    if (change.origin !== "frontend") return;
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
          this.sliceChanged(parseSlice(change.changed.slice, this.depth));
        } catch (err) {
          revert.slice = change.previous.slice!;
          problems.push(errorText(err));
        }
      }
    }
    if (problems.length > 0) {
      this.widget.set(revert);
      this.report(new ActionError(`rejected an update from the front end: ${problems.join("; ")}`), null);
    }
  }

  private sliceChanged(z: number): void {
    this.embedder.prefetch(z, this.prefetchRadius);
    this.refreshStatus();
  }

  // ---- segmentation --------------------------------------------------------------------------

  private warmUp(z: number): void {
    this.embedder.get(z).then(
      () => this.refreshStatus(),
      (err: unknown) => this.report(new Error(`could not embed slice ${z}: ${errorText(err)}`), null),
    );
    this.embedder.prefetch(z, this.prefetchRadius);
  }

  /** Starts the decoder loop, or asks the running one to go round again. */
  private kick(): void {
    if (this.segmentation) {
      // The running loop re-reads the prompts each round; this flag covers a request that
      // arrives after its last look but before it has finished.
      this.rerun = true;
      return;
    }
    this.rerun = false;
    this.segmentation = this.segmentStale()
      .catch((err: unknown) => this.report(err, null))
      .finally(() => {
        this.segmentation = undefined;
        if (this.rerun) this.kick();
        this.refreshStatus();
      });
    this.refreshStatus();
  }

  /** Runs the decoder loop to the end (whatever autoSegment says): commit needs fresh masks. */
  private async settle(): Promise<void> {
    this.kick();
    while (this.segmentation) await this.segmentation;
    const stale = staleSlices(present(this.historyState));
    if (stale.length > 0) throw new ActionError(`could not segment slice ${stale.join(", ")}; see the error above, change the prompts and try again`);
  }

  /**
   * Segments every slice whose mask does not answer its prompts, the shown slice first, until
   * none is left. Results for prompts that changed meanwhile are dropped by the reducer and the
   * loop goes round again: at most one decoder run in flight, the latest prompts always win.
   */
  private async segmentStale(): Promise<void> {
    for (;;) {
      this.rerun = false;
      const s = present(this.historyState);
      const stale = staleSlices(s);
      if (stale.length === 0) return;
      const shown = this.slice;
      const z = stale.includes(shown) ? shown : stale[0]!;
      const key = promptKey(s.prompts, z);
      const ref = this.latestRef;
      const { points, box } = promptsOnSlice(s.prompts, z);
      this.refreshStatus(this.embedder.has(z) ? "segmenting" : "embedding");
      const embedding = await this.embedder.get(z);
      this.refreshStatus("segmenting");
      const prompt: Prompt = {
        ...(points.length ? { points: points.map((p) => ({ x: p.x, y: p.y, positive: p.positive })) } : {}),
        ...(box ? { box: { x0: box.x0, y0: box.y0, x1: box.x1, y1: box.y1 } } : {}),
      };
      let result: SegmentResult;
      const t0 = performance.now();
      try {
        result = await this.model.segment(embedding, prompt, this.options.multimask ? { multimask: this.options.multimask } : {});
      } catch (err) {
        throw new Error(`segmenting slice ${z} failed: ${errorText(err)}`);
      }
      this.decoderMs.push(performance.now() - t0);
      if (this.decoderMs.length > MAX_LOG) this.decoderMs.splice(0, this.decoderMs.length - MAX_LOG);
      const before = this.historyState;
      this.historyState = reduce(before, { type: "result", z, key, rle: encodeRle(result.mask) });
      if (this.historyState !== before) {
        this.currentFor = ref;
        this.publish();
      }
    }
  }

  private get propagator(): Propagator | undefined {
    const p = this.options.propagate;
    return p === false || this.depth < 2 ? undefined : (p ?? volumePropagator());
  }

  private async runPropagation(ref: ActionRef): Promise<void> {
    const propagate = this.propagator;
    if (!propagate) {
      throw new ActionError(this.depth < 2 ? "propagation needs a volume; this is a single image" : "propagation is turned off for this widget (propagate: false)");
    }
    await this.settle();
    const s = present(this.historyState);
    const n = this.width * this.height;
    // Seeds: the slices the user prompted (a propagated slice is not a user's annotation).
    const prompted = new Set([...s.prompts.points.map((p) => p.z), ...s.prompts.boxes.map((b) => b.z)]);
    const seeds = new Map<number, Uint8Array>();
    for (const [z, m] of s.current) if (m.area > 0 && prompted.has(z)) seeds.set(z, decodeRle(m.rle, n));
    if (seeds.size === 0) throw new ActionError("nothing to propagate: segment the object on one slice first (click it), then press Shift+S");
    this.propagating = true;
    this.propagationText = "propagating through the volume…";
    this.refreshStatus();
    try {
      const filled = await propagate({
        model: this.model,
        embed: (z) => this.embedder.get(z),
        depth: this.depth,
        width: this.width,
        height: this.height,
        seeds,
        progress: (z, done) => {
          this.propagationText = `propagating: slice ${z} (${done} done)…`;
          this.refreshStatus();
        },
      });
      const slices = new Map<number, Uint8Array>();
      for (const [z, mask] of filled) {
        if (!Number.isInteger(z) || z < 0 || z >= this.depth || mask.length !== n) {
          throw new Error(`the propagator returned a mask for slice ${z} of ${mask.length} pixels; expected 0..${this.depth - 1} and ${n}`);
        }
        slices.set(z, encodeRle(mask));
      }
      this.change({ type: "propagated", slices }, ref);
    } finally {
      this.propagating = false;
      this.refreshStatus();
    }
  }

  // ---- state out -----------------------------------------------------------------------------

  private publish(): void {
    if (this.widget.closed) return;
    const s = present(this.historyState);
    const patch: Partial<SegmentCanvasState> = {
      can_undo: canUndo(this.historyState),
      can_redo: canRedo(this.historyState),
      next_label: s.nextLabel,
    };
    if (s.prompts !== this.published.prompts) {
      patch.prompts = { points: s.prompts.points.map((p) => ({ ...p })), boxes: s.prompts.boxes.map((b) => ({ ...b })) };
      this.published.prompts = s.prompts;
    }
    if (s.current !== this.published.current) {
      const rles = new Map<number, Uint8Array>();
      for (const [z, m] of s.current) rles.set(z, m.rle);
      patch.current = encodeStack(this.source, rles);
      patch.current_for = this.currentFor;
      this.published.current = s.current;
    }
    if (this.store.sync(s.objects)) {
      patch.labels = this.store.encode();
      patch.objects = this.objects;
      this.scheduleAutosave();
    }
    this.widget.set(patch);
  }

  private autosaveTimer: ReturnType<typeof setTimeout> | undefined;
  private autosaving: Promise<void> = Promise.resolve();

  private scheduleAutosave(): void {
    const path = this.options.autosave;
    if (!path) return;
    if (this.autosaveTimer) clearTimeout(this.autosaveTimer);
    // Debounced: a burst of undo/redo writes once. Writes are serialized and atomic (the NIfTI
    // writer renames a finished temporary file), so the file always holds a complete label map.
    this.autosaveTimer = setTimeout(() => {
      this.autosaveTimer = undefined;
      this.autosaving = this.autosaving
        .then(() => saveLabels(path, this.source, this.labels))
        .then(
          () => undefined,
          (err: unknown) => this.report(new Error(`autosave to ${path} failed: ${errorText(err)}`), null),
        );
    }, AUTOSAVE_DELAY_MS);
  }

  /** Resolves when the last autosave has been written (immediately without autosave). */
  async autosaved(): Promise<void> {
    while (this.autosaveTimer) await new Promise((r) => setTimeout(r, AUTOSAVE_DELAY_MS));
    await this.autosaving;
  }

  private refreshStatus(force?: CanvasStatus): void {
    if (this.widget.closed) return;
    const busy = this.embedder.busyWith;
    let status: CanvasStatus = "ready";
    let text = "";
    if (this.propagating) {
      status = "propagating";
      text = this.propagationText;
    } else if (force) {
      status = force;
    } else if (this.segmentation) {
      status = "segmenting";
    } else if (busy !== undefined && busy === this.slice) {
      status = "embedding";
    }
    if (status === "propagating") {
      // the progress line set above
    } else if (status === "embedding" || (busy !== undefined && status === "ready")) {
      text = busy === undefined ? "" : this.depth > 1 ? `embedding slice ${busy}${busy === this.slice ? "" : " (background)"}…` : "embedding the image…";
    } else if (status === "segmenting") {
      text = "segmenting…";
    }
    this.widget.set({ status, status_text: text });
  }
}

function refOf(content: unknown): ActionRef | null {
  if (content === null || typeof content !== "object") return null;
  const { client, seq } = content as { client?: unknown; seq?: unknown };
  return typeof client === "string" && client.length <= 64 && typeof seq === "number" && Number.isSafeInteger(seq) ? { client, seq } : null;
}

/**
 * Shows `input` (a 2D image or a volume) with the model attached: click to segment, C to
 * commit, and read `w.labels` from the notebook. The cell's value displays the widget.
 */
export function segmentCanvas(model: CanvasModel, input: CanvasInput, options: SegmentCanvasOptions = {}): SegmentCanvas {
  const source = canvasSource(input, options.view);
  const slice = options.slice ?? Math.floor((source.depth - 1) / 2);
  parseSlice(slice, source.depth);
  const store = new LabelStore(source);
  const initial: SegmentCanvasState = {
    width: source.width,
    height: source.height,
    depth: source.depth,
    channels: source.channels,
    dtype: source.dtype,
    pixels: source.pixelBytes(),
    value_range: source.valueRange,
    pixel_aspect: source.pixelAspect,
    orientation: source.orientation,
    window: defaultWindow(source, options.window),
    window_presets: windowPresets(source),
    palette: LABEL_COLORS.map((c) => [c[0], c[1], c[2]] as [number, number, number]),
    highlight: [255, 214, 0],
    title: options.title ?? "",
    notice: model.notice ?? "",
    slice,
    prompts: { points: [], boxes: [] },
    current: encodeStack(source, new Map()),
    current_for: null,
    labels: store.encode(),
    objects: [],
    next_label: 1,
    can_undo: false,
    can_redo: false,
    can_propagate: options.propagate !== false && source.depth > 1,
    auto_segment: options.autoSegment ?? true,
    status: "embedding",
    status_text: source.depth > 1 ? `embedding slice ${slice}…` : "embedding the image…",
    error: "",
    error_seq: 0,
    ack: null,
  };
  return new SegmentCanvas(model, source, options, initial);
}
