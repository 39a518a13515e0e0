/**
 * The segmentation canvas's engine, kernel side: the part of `SegmentCanvas` (canvas.ts) that
 * is not the notebook API. It owns the synced widget, the undo history (annotation.ts), the
 * decoder loop (segment-loop.ts), the embedder and the action dispatcher (dispatch.ts), and
 * applies each action in queue order; canvas.ts adds the notebook's methods on top.
 */
import { Widget, type WidgetChange } from "../../../kernel/jupyter/widgets/widget.js";
import {
  ActionError,
  MODEL_NAME,
  MODULE_NAME,
  MODULE_SEMVER,
  VIEW_NAME,
  type Action,
  type ActionRef,
  type CanvasStatus,
  type SegmentCanvasState,
} from "../common/state.js";
import { Annotation } from "./annotation.js";
import { Autosave } from "./autosave.js";
import { Candidates } from "./candidates.js";
import { CommitListeners } from "./commit-listeners.js";
import { ActionDispatcher, errorText } from "./dispatch.js";
import { openFailure, readObjects, startingLabels } from "./editing.js";
import { SliceEmbedder } from "./embedder.js";
import type { ObjectRecord } from "./load-labels.js";
import { reviewFrontendChange } from "./messages.js";
import { propagateObject, propagatorFor, repropagateFrom, type PropagationArgs } from "./propagation.js";
import { defaultAutomaticOptions, Proposals } from "./proposals.js";
import { Publisher, statusLine } from "./publish.js";
import { saveLabels } from "./save.js";
import { SegmentLoop } from "./segment-loop.js";
import { SessionRecorder } from "./session.js";
import type { CanvasSource } from "./source.js";
import type { CanvasModel, CommitEvent, SegmentCanvasOptions } from "./types.js";

/** A run stopped on purpose (Esc, a new run): not an error to show. */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}

/**
 * The engine under the notebook API (canvas.ts): builds the widget, the history, the decoder
 * loop and the embedder, applies each queued action, and keeps the status line current.
 */
export class CanvasCore {
  /** The synced ipywidgets model behind the canvas (state, comm); for tests and advanced use. */
  readonly widget: Widget<SegmentCanvasState>;
  protected readonly work: Annotation;
  protected readonly embedder: SliceEmbedder;
  protected readonly loop: SegmentLoop;
  protected readonly dispatch: ActionDispatcher;
  protected readonly publisher: Publisher;
  protected readonly autosave: Autosave;
  protected readonly commits = new CommitListeners((err) => this.report(err));
  protected readonly candidateStore = new Candidates();
  /** "Segment everything": the automatic generator's proposals (proposals.ts). */
  protected readonly proposalSet: Proposals;
  /** Every accepted action and loaded label map, for `w.exportSession()`. */
  protected readonly session = new SessionRecorder();
  /** The candidates last sent, as JSON (sent again only when they change). */
  private sentCandidates = "null";
  protected latestRef: ActionRef | null = null;
  /** The propagation's progress line while one runs. */
  protected propagationLine: string | undefined;
  protected readonly autoSegment: boolean;
  protected readonly prefetchRadius: number;
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
    protected readonly options: SegmentCanvasOptions,
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
      this.publisher.publish(this.work.history, { current: this.work.currentFor, labels: this.work.labelsFor }, () => this.work.objects());
      this.publishCandidates();
      this.publishProposals();
    });
    this.embedder = new SliceEmbedder(model, (z) => source.sliceImage(z), source.depth, options.intensity, () => this.refreshStatus());
    this.loop = new SegmentLoop(
      {
        snapshot: () => this.work.present,
        latestRef: () => this.latestRef,
        shownSlice: () => this.widget.get("slice"),
        applyResult: (result, ref, full) => {
          this.candidateStore.offerResult(this.work.present, result.z, result.key, full);
          this.work.applyResult(result, ref);
        },
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
    this.autosave = new Autosave(options.autosave, (path) => saveLabels(path, this.source, this.work.labels(), { records: this.records() }), (err) => this.report(err));
    this.publisher = new Publisher(this.widget, source, this.work.store, () => this.autosave.schedule());
    this.dispatch = new ActionDispatcher({
      bounds: source,
      widget: this.widget,
      apply: (action, ref) => this.apply(action, ref),
      report: (err) => this.report(err),
      applied: (entry) => {
        if (entry.action.type !== "load_labels") this.session.action(entry.action, this.work.present);
      },
    });
    this.widget.onCustom((content) => this.dispatch.fromFrontend(content));
    this.widget.onChange((change) => this.frontendChange(change));
    this.warmUp(initial.slice);
    this.loaded = this.openLabels();
  }

  /** The starting labels: the `labels` option, else an existing autosave file (a reopened session). */
  protected openLabels(): Promise<number> {
    const start = startingLabels(this.options);
    if (!start) return Promise.resolve(0);
    return this.dispatch.queue.run(async () => {
      try {
        const objects = await readObjects(start.input, this.source);
        this.work.start(objects);
        this.session.load(objects, { start: true, replace: true });
        return objects.length;
      } catch (err) {
        // Never overwrite a file we could not read: that file may be the only copy of the work.
        if (start.fromAutosave) this.autosave.disable();
        this.report(openFailure(start.input, start.fromAutosave, err));
        return 0;
      }
    });
  }

  /** Label and name of each object, for the sidecar beside saved labels. */
  protected records(): ObjectRecord[] {
    return this.work.present.objects.map((o) => ({ label: o.label, name: o.name }));
  }

  /** Queued actions applied and masks up to date; background embedding may go on. */
  protected async settled(): Promise<void> {
    while (this.busy) {
      await this.dispatch.queue.drained();
      const running = this.loop.active;
      if (running) await running.catch(() => undefined);
    }
  }

  protected get busy(): boolean {
    return this.dispatch.queue.size > 0 || this.loop.active !== undefined;
  }

  // ---- actions in ----------------------------------------------------------------------------

  protected api(raw: Action): Promise<CommitEvent | undefined> {
    return this.dispatch.fromKernel(raw).then(async (event) => {
      if (this.autoSegment || raw.type === "segment") await this.settled();
      return event;
    });
  }

  protected async apply(action: Action, ref: ActionRef): Promise<CommitEvent | undefined> {
    this.latestRef = ref;
    switch (action.type) {
      case "segment":
        this.loop.kick();
        return undefined;
      case "propagate":
        await this.runPropagation(ref);
        return undefined;
      case "repropagate":
        await this.runPropagation(ref, action.z);
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
        this.commits.emit(event);
        return event;
      }
      case "drop_proposal":
        this.proposalSet.drop(action.id);
        return undefined;
      case "clear_proposals":
        await this.proposalSet.clear();
        return undefined;
      case "pick_candidate":
        await this.loop.settle();
        this.work.change(this.candidateStore.pick(this.work.present, action.token), ref);
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
        this.commits.emit(event);
        return event;
      }
      default:
        this.work.change(action, ref);
        if (this.autoSegment) this.loop.kick();
        return undefined;
    }
  }

  /** Shift+S (from the prompted slices), or F: again from slice `from` onward. */
  protected async runPropagation(ref: ActionRef, from?: number): Promise<void> {
    await this.loop.settle();
    const args: PropagationArgs = {
      propagate: propagatorFor(this.options.propagate, this.source.depth),
      model: this.model,
      embed: (z) => this.embedder.get(z),
      shape: this.source,
      snapshot: this.work.present,
      progress: (text) => {
        this.propagationLine = text;
        this.refreshStatus();
      },
    };
    const step = await (from === undefined ? propagateObject(args) : repropagateFrom(args, from)).finally(() => {
      this.propagationLine = undefined;
      this.refreshStatus();
    });
    this.work.change(step, ref);
  }

  protected publishProposals(): void {
    if (this.widget.closed || !this.proposalSet) return;
    const wire = this.proposalSet.wire();
    if (wire) this.widget.set({ proposals: wire });
  }

  private publishCandidates(): void {
    if (this.widget.closed) return;
    const wire = this.candidateStore.wire(this.work.present);
    const json = JSON.stringify(wire);
    if (json === this.sentCandidates) return;
    this.sentCandidates = json;
    this.widget.set({ candidates: wire });
  }

  /** Shows an error in every view (and keeps the kernel running). */
  protected report(err: unknown): void {
    if (this.widget.closed) return;
    this.widget.set({ error: errorText(err), error_seq: this.widget.get("error_seq") + 1 });
  }

  protected frontendChange(change: WidgetChange<SegmentCanvasState>): void {
    if (change.origin !== "frontend") return;
    const { revert, problems } = reviewFrontendChange(change, this.source.depth, (z) => this.sliceChanged(z));
    if (problems.length > 0) {
      this.widget.set(revert);
      this.report(new ActionError(`rejected an update from the front end: ${problems.join("; ")}`));
    }
  }

  // ---- embedding and state out -----------------------------------------------------------------

  protected sliceChanged(z: number): void {
    this.embedder.prefetch(z, this.prefetchRadius);
    this.refreshStatus();
  }

  protected warmUp(z: number): void {
    this.embedder.get(z).then(
      () => this.refreshStatus(),
      (err: unknown) => this.report(new Error(`could not embed slice ${z}: ${errorText(err)}`)),
    );
    this.embedder.prefetch(z, this.prefetchRadius);
  }

  protected refreshStatus(force?: CanvasStatus): void {
    if (this.widget.closed) return;
    this.widget.set(
      statusLine({
        propagation: this.propagationLine,
        proposing: this.proposalSet?.progress,
        force,
        segmenting: this.loop?.active !== undefined,
        embedding: this.embedder?.busyWith,
        shownSlice: this.widget.get("slice"),
        depth: this.source.depth,
      }),
    );
  }
}

