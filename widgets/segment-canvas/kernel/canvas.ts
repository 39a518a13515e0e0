/**
 * The segmentation canvas, kernel side: what `const w = segmentCanvas(model, image)` returns
 * (create.ts builds it).
 *
 * The browser sends actions (clicks, boxes, commit, undo, ...); this side checks them, applies
 * them to the undo history (shared/reducer.ts), runs the decoder against the cached embedding
 * of the slice (segment-loop.ts), and syncs prompts and masks back as compact binary
 * (publish.ts). Notebook code sees the same objects: `w.labels`, `w.current`, `w.prompts`,
 * `w.history`, `w.onCommit`, `await w.nextCommit()`, `await w.save(path)`, and can drive the
 * widget with the same actions (`await w.addPoint(x, y)`).
 *
 * Robustness rules, because this is where a user's work lives:
 * - a comm handler never awaits model work: it queues the action (action-queue.ts) and
 *   returns, so the kernel keeps answering (and the front end gets its idle) while the
 *   encoder runs;
 * - anything a front end sends is validated; a bad message is reported in the widget and
 *   changes nothing; a decoder or encoder failure is reported the same way;
 * - committed objects live in the history, not in synced state, so no front end, reload or
 *   failure can change them; only a user's undo/remove can.
 */
import { DISPLAY_SYMBOL, type Displayable, type MimeBundle } from "../../../kernel/jupyter/display.js";
import { Widget, type WidgetChange } from "../../../kernel/jupyter/widgets/widget.js";
import {
  ActionError,
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
  type ObjectSummary,
  type SegmentCanvasState,
  type WirePrompts,
} from "../shared/state.js";
import { existsSync } from "node:fs";
import { encodeRle, toBase64 } from "../shared/mask-codec.js";
import { ActionQueue } from "./action-queue.js";
import { Annotation } from "./annotation.js";
import { Autosave } from "./autosave.js";
import { SliceEmbedder } from "./embedder.js";
import { objectsFromLabels, readLabelsInput, type LabelsInput, type ObjectRecord } from "./load-labels.js";
import { refOf, reviewFrontendChange } from "./messages.js";
import { noPropagatorReason, propagateObject, propagatorFor } from "./propagation.js";
import { defaultAutomaticOptions, Proposals, type CanvasAutomaticOptions, type ProposalSummary } from "./proposals.js";
import { Publisher, statusLine } from "./publish.js";
import { saveLabels, type SaveResult } from "./save.js";
import { MAX_TIMINGS, SegmentLoop } from "./segment-loop.js";
import type { CanvasSource } from "./source.js";
import type { CanvasModel, CommitEvent, HistoryEntry, SegmentCanvasOptions } from "./types.js";

const KERNEL_CLIENT = "kernel";
/** Entries kept in `w.history` (the log; the undo history is separate and capped on its own). */
const MAX_LOG = MAX_TIMINGS;

/** A run stopped on purpose (Esc, a new run): not an error to show. */
function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
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
  private readonly work: Annotation;
  private readonly embedder: SliceEmbedder;
  private readonly loop: SegmentLoop;
  private readonly queue = new ActionQueue();
  private readonly publisher: Publisher;
  private readonly autosave: Autosave;
  private readonly log: HistoryEntry[] = [];
  private readonly commitListeners = new Set<(event: CommitEvent) => void>();
  private latestRef: ActionRef | null = null;
  private kernelSeq = 0;
  /** The propagation's progress line while one runs. */
  private propagation: string | undefined;
  private readonly autoSegment: boolean;
  private readonly prefetchRadius: number;
  /** "Segment everything": the automatic generator's proposals (proposals.ts). */
  private readonly proposalSet: Proposals;
  /**
   * Resolves with the number of objects the canvas opened with, once its starting labels (the
   * `labels` option, or the reopened `autosave` file) are in; 0 when it starts empty. Never rejects:
   * a file that cannot be read is reported in the widget.
   */
  readonly loaded: Promise<number>;

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
    this.work = new Annotation(source, () => {
      this.publisher.publish(this.work.history, { current: this.work.currentFor, labels: this.work.labelsFor }, () => this.objects);
      this.publishProposals();
    });
    this.embedder = new SliceEmbedder(model, (z) => source.sliceImage(z), source.depth, options.intensity, () => this.refreshStatus());
    this.loop = new SegmentLoop(
      {
        snapshot: () => this.work.present,
        latestRef: () => this.latestRef,
        shownSlice: () => this.slice,
        applyResult: (result, ref) => this.work.applyResult(result, ref),
        status: (force) => this.refreshStatus(force),
        report: (err) => this.report(err),
      },
      model,
      this.embedder,
      options.multimask,
    );
    this.proposalSet = new Proposals(
      {
        model,
        slicePixels: source.width * source.height,
        embed: (z) => this.embedder.get(z),
        history: () => this.work.history,
        changed: () => {
          this.publishProposals();
          this.refreshStatus();
        },
      },
      { ...defaultAutomaticOptions(model), ...options.automatic },
    );
    this.autosave = new Autosave(options.autosave, (path) => saveLabels(path, this.source, this.labels, { records: this.records() }), (err) => this.report(err));
    this.publisher = new Publisher(this.widget, source, this.work.store, () => this.autosave.schedule());
    this.widget.onCustom((content) => {
      this.onMessage(content);
    });
    this.widget.onChange((change) => this.frontendChange(change));
    this.warmUp(initial.slice);
    this.loaded = this.openLabels();
  }

  /** The starting labels: the `labels` option, else an existing autosave file (a reopened session). */
  private openLabels(): Promise<number> {
    const { labels, autosave, resume } = this.options;
    const fromAutosave = labels === undefined;
    const input = labels ?? (autosave !== undefined && resume !== false && existsSync(autosave) ? autosave : undefined);
    if (input === undefined) return Promise.resolve(0);
    return this.queue.run(async () => {
      try {
        const { data, names } = await readLabelsInput(input, this.source);
        const objects = objectsFromLabels(this.source, data, names);
        this.work.start(objects);
        return objects.length;
      } catch (err) {
        // Never overwrite a file we could not read: that file may be the only copy of the work.
        if (fromAutosave) this.autosave.disable();
        const what = typeof input === "string" ? input : "the labels";
        this.report(new Error(`could not open ${what}: ${errorText(err)}${fromAutosave ? "; autosave is off, so that file stays as it is" : ""}`));
        return 0;
      }
    });
  }

  /** Label and name of each object, for the sidecar beside saved labels. */
  private records(): ObjectRecord[] {
    return this.work.present.objects.map((o) => ({ label: o.label, name: o.name }));
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
    // Stops a segment-everything run and frees its decoder sessions (reloaded if asked again).
    void this.proposalSet.dispose();
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
    return this.work.labels();
  }

  /** The object being segmented (0/1, source layout), or null when nothing is segmented yet. */
  get current(): Uint8Array | null {
    return this.work.current();
  }

  /** Prompts of the object being segmented (x = column, y = row, z = slice of the view). */
  get prompts(): WirePrompts {
    return this.work.present.prompts;
  }

  get objects(): ObjectSummary[] {
    return this.work.objects();
  }

  /** Milliseconds of each decoder call (prompt to mask, in the kernel), oldest first: where click latency goes. */
  get timings(): { readonly decoderMs: readonly number[] } {
    return { decoderMs: this.loop.decoderMs };
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

  /**
   * Writes the committed labels: NIfTI with the source geometry for volumes; PNG or NIfTI for
   * 2D images; a DICOM SEG (.dcm) for DICOM series, its segments named and coloured as on screen
   * (`names` overrides the objects' names). The names also go to a sidecar beside the labels.
   */
  async save(path: string, options: { names?: readonly string[] } = {}): Promise<SaveResult> {
    await this.settled();
    return saveLabels(path, this.source, this.labels, { ...options, colors: this.widget.get("palette"), records: this.records() });
  }

  /**
   * Replaces the committed objects with the labels of a label map (array in the source's
   * layout, a previous `w.labels`, or a NIfTI / PNG path; names from its sidecar), each label
   * an editable object; one undo step. `{replace: false}` adds them to the objects there are.
   */
  async loadLabels(input: LabelsInput, options: { replace?: boolean } = {}): Promise<ObjectSummary[]> {
    const { data, names } = await readLabelsInput(input, this.source);
    const objects = objectsFromLabels(this.source, data, names);
    const ref = { client: KERNEL_CLIENT, seq: ++this.kernelSeq };
    await this.queue.run(async () => {
      try {
        this.work.change({ type: "load", objects, replace: options.replace ?? true }, ref);
        this.record({ time: new Date(), origin: "kernel", action: { type: "load_labels", objects: objects.length }, ok: true });
      } catch (err) {
        this.record({ time: new Date(), origin: "kernel", action: { type: "load_labels", objects: objects.length }, ok: false, error: errorText(err) });
        this.report(err);
        throw err;
      }
    });
    return this.objects;
  }

  /**
   * A brush stroke from code: `mask` (0/1, the displayed slice, row-major) is added to the
   * current object (`label` 0, the default) or to committed object `label`; one undo step.
   */
  paint(mask: ArrayLike<number>, options: { z?: number; label?: number; erase?: boolean } = {}): Promise<void> {
    const n = this.width * this.height;
    if (mask.length !== n) return Promise.reject(new Error(`the stroke has ${mask.length} pixels; a slice has ${n} (${this.width}x${this.height})`));
    const footprint = Uint8Array.from(mask, (v) => (v ? 1 : 0));
    const action: Action = { type: "stroke", z: options.z ?? this.slice, target: options.label ?? 0, erase: options.erase ?? false, mask: toBase64(encodeRle(footprint)) };
    return this.api(action).then(() => undefined);
  }
  /** An eraser stroke from code: as `paint`, taking the pixels away. */
  erase(mask: ArrayLike<number>, options: { z?: number; label?: number } = {}): Promise<void> {
    return this.paint(mask, { ...options, erase: true });
  }
  renameObject(label: number, name: string): Promise<void> {
    return this.api({ type: "rename_object", label, name }).then(() => undefined);
  }
  /** Gives object `label` the id `to` (which must be free). */
  relabelObject(label: number, to: number): Promise<void> {
    return this.api({ type: "relabel_object", label, to }).then(() => undefined);
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

  // ---- segment everything (proposals.ts) ----------------------------------------------------------

  /** The automatic generator's proposals not yet accepted or dropped, SAM's order (best predicted IoU first). */
  get proposals(): ProposalSummary[] {
    return this.proposalSet.summaries();
  }

  /**
   * Runs segment_anything's automatic mask generator on slice `z` (default: the shown one) and
   * shows its masks as proposals (key A). `options` are the generator's (`pointsPerSide`,
   * `predIouThresh`, ...) over the canvas's `automatic` option. Resolves with the proposals;
   * rejects when stopped (`w.clearProposals()`, Esc).
   */
  async segmentEverything(options: CanvasAutomaticOptions & { z?: number } = {}): Promise<ProposalSummary[]> {
    const { z = this.slice, ...generatorOptions } = options;
    parseSlice(z, this.depth);
    const action: Action = { type: "segment_everything", z };
    try {
      const found = await this.proposalSet.run(z, generatorOptions);
      this.record({ time: new Date(), origin: "kernel", action, ok: true });
      return found;
    } catch (err) {
      this.record({ time: new Date(), origin: "kernel", action, ok: false, error: errorText(err) });
      if (!isAbort(err)) this.report(err);
      throw err;
    }
  }
  /** Proposal `id` becomes the next committed object (one undo step); resolves with its commit event. */
  async acceptProposal(id: number): Promise<CommitEvent> {
    return (await this.api({ type: "accept_proposal", id }))!;
  }
  dropProposal(id: number): Promise<void> {
    return this.api({ type: "drop_proposal", id }).then(() => undefined);
  }
  /** Stops a running generator and drops every remaining proposal. */
  clearProposals(): Promise<void> {
    return this.api({ type: "clear_proposals" }).then(() => undefined);
  }

  private publishProposals(): void {
    if (this.widget.closed || !this.proposalSet) return;
    const wire = this.proposalSet.wire();
    if (wire) this.widget.set({ proposals: wire });
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

  /** Resolves when the last autosave has been written (immediately without autosave). */
  autosaved(): Promise<void> {
    return this.autosave.flushed();
  }

  /** Queued actions applied and masks up to date; background embedding may go on. */
  private async settled(): Promise<void> {
    while (this.busy) {
      await this.queue.drained();
      const running = this.loop.active;
      if (running) await running.catch(() => undefined);
    }
  }

  private get busy(): boolean {
    return this.queue.size > 0 || this.loop.active !== undefined;
  }

  // ---- actions in ----------------------------------------------------------------------------

  /** A custom message from a front end: checked here, applied in order, never awaited by the comm. */
  private onMessage(content: unknown): void {
    let message;
    try {
      message = parseActionMessage(content, this.source);
    } catch (err) {
      const ref = refOf(content);
      this.report(err);
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
      this.report(err);
      return Promise.reject(err);
    }
    const p = this.enqueue(action, { client: KERNEL_CLIENT, seq: ++this.kernelSeq }, "kernel");
    return p.then(async (event) => {
      if (this.autoSegment || action.type === "segment") await this.settled();
      return event;
    });
  }

  private enqueue(action: Action, ref: ActionRef, origin: HistoryEntry["origin"]): Promise<CommitEvent | undefined> {
    return this.queue.run(async () => {
      try {
        const event = await this.apply(action, ref);
        this.record({ time: new Date(), origin, action, ok: true });
        if (this.widget.get("error") !== "" && origin === "frontend") this.widget.set({ error: "" });
        return event;
      } catch (err) {
        this.record({ time: new Date(), origin, action, ok: false, error: errorText(err) });
        this.report(err);
        throw err;
      } finally {
        if (!this.widget.closed) this.widget.set({ ack: ref });
      }
    });
  }

  private async apply(action: Action, ref: ActionRef): Promise<CommitEvent | undefined> {
    this.latestRef = ref;
    switch (action.type) {
      case "segment":
        this.loop.kick();
        return undefined;
      case "propagate":
        await this.runPropagation(ref);
        return undefined;
      case "segment_everything":
        // Not awaited: the run takes long, and the queue must keep taking clicks and the stop.
        this.proposalSet.run(action.z).catch((err: unknown) => {
          if (!isAbort(err)) this.report(err);
        });
        return undefined;
      case "accept_proposal": {
        const p = this.proposalSet.get(action.id);
        this.work.change({ type: "add_object", slices: new Map([[p.z, p.rle]]) }, ref);
        this.proposalSet.markAccepted(action.id);
        const s = this.work.present;
        const event = this.work.commitEvent(s.objects[s.objects.length - 1]!.label);
        this.notifyCommit(event);
        return event;
      }
      case "drop_proposal":
        this.proposalSet.drop(action.id);
        return undefined;
      case "clear_proposals":
        await this.proposalSet.clear();
        return undefined;
      case "stroke":
        // A stroke on the current object lands on the mask the user sees: the decoder finishes first.
        if (action.target === 0) await this.loop.settle();
        this.work.change(action, ref);
        return undefined;
      case "commit": {
        await this.loop.settle();
        this.work.change(action, ref);
        const s = this.work.present;
        const event = this.work.commitEvent(s.objects[s.objects.length - 1]!.label);
        for (const listener of [...this.commitListeners]) {
          try {
            listener(event);
          } catch (err) {
            this.report(new Error(`an onCommit listener failed: ${errorText(err)}`));
          }
        }
        return event;
      }
      default:
        this.work.change(action, ref);
        if (this.autoSegment) this.loop.kick();
        return undefined;
    }
  }

  private async runPropagation(ref: ActionRef): Promise<void> {
    const propagate = propagatorFor(this.options.propagate, this.depth);
    if (!propagate) throw new ActionError(noPropagatorReason(this.depth));
    await this.loop.settle();
    try {
      const slices = await propagateObject({
        propagate,
        model: this.model,
        embed: (z) => this.embedder.get(z),
        shape: this.source,
        snapshot: this.work.present,
        progress: (text) => {
          this.propagation = text;
          this.refreshStatus();
        },
      });
      this.work.change({ type: "propagated", slices }, ref);
    } finally {
      this.propagation = undefined;
      this.refreshStatus();
    }
  }

  private notifyCommit(event: CommitEvent): void {
    for (const listener of [...this.commitListeners]) {
      try {
        listener(event);
      } catch (err) {
        this.report(new Error(`an onCommit listener failed: ${errorText(err)}`));
      }
    }
  }

  private record(entry: HistoryEntry): void {
    this.log.push(entry);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
  }

  /** Shows an error in every view (and keeps the kernel running). */
  private report(err: unknown): void {
    if (this.widget.closed) return;
    this.widget.set({ error: errorText(err), error_seq: this.widget.get("error_seq") + 1 });
  }

  private frontendChange(change: WidgetChange<SegmentCanvasState>): void {
    if (change.origin !== "frontend") return;
    const { revert, problems } = reviewFrontendChange(change, this.depth, (z) => this.sliceChanged(z));
    if (problems.length > 0) {
      this.widget.set(revert);
      this.report(new ActionError(`rejected an update from the front end: ${problems.join("; ")}`));
    }
  }

  // ---- embedding and state out -----------------------------------------------------------------

  private sliceChanged(z: number): void {
    this.embedder.prefetch(z, this.prefetchRadius);
    this.refreshStatus();
  }

  private warmUp(z: number): void {
    this.embedder.get(z).then(
      () => this.refreshStatus(),
      (err: unknown) => this.report(new Error(`could not embed slice ${z}: ${errorText(err)}`)),
    );
    this.embedder.prefetch(z, this.prefetchRadius);
  }

  private refreshStatus(force?: CanvasStatus): void {
    if (this.widget.closed) return;
    this.widget.set(
      statusLine({
        propagation: this.propagation,
        proposing: this.proposalSet?.progress,
        force,
        segmenting: this.loop?.active !== undefined,
        embedding: this.embedder?.busyWith,
        shownSlice: this.slice,
        depth: this.depth,
      }),
    );
  }
}
