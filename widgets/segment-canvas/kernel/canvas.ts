/**
 * The segmentation canvas, kernel side: what `const w = segmentCanvas(model, image)` returns
 * (create.ts builds it).
 *
 * The browser sends actions (clicks, boxes, commit, undo, ...); this side checks them, applies
 * them to the undo history (common/reducer.ts), runs the decoder against the cached embedding
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
import { parseSlice, type Action, type ObjectSummary, type PropagationReport, type WirePrompts } from "../common/state.js";
import { CanvasCore, isAbort } from "./canvas-core.js";
import { errorText } from "./dispatch.js";
import type { CanvasAutomaticOptions, ProposalSummary } from "./proposals.js";
import { readObjects, strokeAction, type StrokeOptions } from "./editing.js";
import type { Candidate } from "./candidates.js";
import type { LabelsInput } from "./load-labels.js";
import { saveLabels, type SaveResult } from "./save.js";
import type { CanvasSession } from "./session.js";
import type { CommitEvent, HistoryEntry } from "./types.js";

/**
 * Holds a widget (the comm and synced state) rather than being one: the notebook API stays
 * small and reads like the task (labels, current, commit), and the raw state stays internal.
 *//**
 * Holds a widget (the comm and synced state) rather than being one: the notebook API stays
 * small and reads like the task (labels, current, commit), and the raw state stays internal.
 */
export class SegmentCanvas extends CanvasCore implements Displayable {
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

  /**
   * SAM's three masks (tokens 1-3) for the single click the current mask answers, with their
   * predicted IoU, the one micro_sam's rule chose and the one shown; null for any other prompts.
   */
  get candidates(): { z: number; items: Candidate[] } | null {
    return this.candidateStore.list(this.work.present, this.width * this.height);
  }

  /** Shows SAM's candidate `token` (1-3) for the single click instead of the rule's choice; one undo step. */
  pickCandidate(token: number): Promise<void> {
    return this.api({ type: "pick_candidate", token }).then(() => undefined);
  }

  /** Milliseconds of each decoder call (prompt to mask, in the kernel), oldest first: where click latency goes. */
  get timings(): { readonly decoderMs: readonly number[] } {
    return { decoderMs: this.loop.decoderMs };
  }

  /** Every action applied or rejected, oldest first. */
  get history(): readonly HistoryEntry[] {
    return this.dispatch.log;
  }

  /** Calls `listener` after each commit (from the browser or from code). Returns a function that removes it. */
  onCommit(listener: (event: CommitEvent) => void): () => void {
    return this.commits.add(listener);
  }

  /** Resolves at the next commit: `const obj = await w.nextCommit()` waits for the user to press C. */
  nextCommit(): Promise<CommitEvent> {
    return this.commits.next();
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
    const objects = await readObjects(input, this.source);
    const ref = this.dispatch.kernelRef();
    await this.dispatch.runLogged({ type: "load_labels", objects: objects.length }, async () => {
      this.work.change({ type: "load", objects, replace: options.replace ?? true }, ref);
      this.session.load(objects, { start: false, replace: options.replace ?? true });
    });
    return this.objects;
  }

  /**
   * A brush stroke from code: `mask` (0/1, the displayed slice, row-major) is added to the
   * current object (`label` 0, the default) or to committed object `label`; one undo step.
   */
  paint(mask: ArrayLike<number>, options: StrokeOptions = {}): Promise<void> {
    let action: Action;
    try {
      action = strokeAction(mask, options, this.source, this.slice);
    } catch (err) {
      return Promise.reject(err);
    }
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
  /**
   * Propagates again from slice z (default: the shown one) after fixing it with prompts or the
   * brush: away from the seeds, replacing what the last propagation put beyond z; one undo step.
   */
  repropagate(z: number = this.slice): Promise<void> {
    return this.api({ type: "repropagate", z }).then(() => undefined);
  }
  /** What the current object's last propagation did per slice (predicted IoU, written or refused) and why each direction stopped; null before one. */
  get propagation(): PropagationReport | null {
    return this.work.present.propagation ?? null;
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
      this.dispatch.record({ time: new Date(), origin: "kernel", action, ok: true });
      return found;
    } catch (err) {
      this.dispatch.record({ time: new Date(), origin: "kernel", action, ok: false, error: errorText(err) });
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

  /**
   * The session so far as JSON data: every accepted action (prompts, strokes, candidate picks,
   * commits, undo/redo, object edits) and loaded label map in order, each with the object it
   * concerns, the model and image identity, and the committed labels. `JSON.stringify` it to
   * save; `replaySession(model, image, session)` re-runs it on another model.
   */
  async exportSession(): Promise<CanvasSession> {
    await this.settled();
    return this.session.export({
      model: this.model,
      source: this.source,
      view: this.options.view,
      settings: { autoSegment: this.autoSegment, multimask: this.options.multimask ?? null },
      present: this.work.present,
      labels: this.work.store.encode(),
    });
  }

  /** Applies `action` as a front end would send it (checked, queued, logged): what a session replay feeds in. */
  perform(action: Action): Promise<CommitEvent | undefined> {
    return this.api(action);
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
}
