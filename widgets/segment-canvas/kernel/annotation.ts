/**
 * The user's work on one canvas: the undo history (common/reducer.ts) and the label map painted
 * from its committed objects (common/labels.ts), read back in the source's layout: image rows
 * for a 2D image, voxel order (i fastest) for a volume.
 */
import { LabelStore } from "../common/labels.js";
import { decodeRle } from "../common/mask-codec.js";
import { initialHistory, present, reduce, type CommittedObject, type History, type ReducerAction, type ResultAction, type Snapshot } from "../common/reducer.js";
import type { ActionRef, ObjectSummary } from "../common/state.js";
import type { CanvasSource } from "./source.js";
import type { CommitEvent } from "./types.js";

export class Annotation {
  private state: History = initialHistory();
  readonly store: LabelStore;
  /** The action the current mask answers (a view measures its latency by it). */
  currentFor: ActionRef | null = null;
  /** The action the committed objects last changed for. */
  labelsFor: ActionRef | null = null;

  constructor(
    private readonly source: CanvasSource,
    /** Called after every change, to send it to the views. */
    private readonly changed: () => void,
  ) {
    this.store = new LabelStore(source);
  }

  /** Starts over from these committed objects (the labels a canvas opens with: not an undo step). */
  start(objects: readonly CommittedObject[]): void {
    this.state = initialHistory({ objects });
    this.currentFor = null;
    this.changed();
  }

  get history(): History {
    return this.state;
  }

  get present(): Snapshot {
    return present(this.state);
  }

  /** Applies a user's action (or a propagation); `ref` is the action a changed mask answers. */
  change(action: ReducerAction, ref: ActionRef): void {
    const beforeCurrent = this.present.current;
    const beforeObjects = this.present.objects;
    this.state = reduce(this.state, action);
    if (this.present.current !== beforeCurrent) this.currentFor = ref;
    if (this.present.objects !== beforeObjects) this.labelsFor = ref;
    this.changed();
  }

  /** Applies a decoder result; nothing happens when the reducer drops it (the prompts moved on). */
  applyResult(result: ResultAction, ref: ActionRef | null): void {
    const before = this.state;
    this.state = reduce(before, result);
    if (this.state !== before) {
      this.currentFor = ref;
      this.changed();
    }
  }

  /** Committed labels in the source's layout; 0 = background. */
  labels(): Uint16Array {
    const slices = new Map<number, Uint16Array>();
    for (const z of this.store.touched) slices.set(z, this.store.slice(z)!);
    return this.source.toSourceLayout(slices, (n) => new Uint16Array(n));
  }

  /** The object being segmented (0/1, source layout), or null when nothing is segmented yet. */
  current(): Uint8Array | null {
    const s = this.present;
    if (s.current.size === 0) return null;
    const n = this.source.width * this.source.height;
    const slices = new Map<number, Uint8Array>();
    for (const [z, m] of s.current) slices.set(z, decodeRle(m.rle, n));
    return this.source.toSourceLayout(slices, (k) => new Uint8Array(k));
  }

  objects(): ObjectSummary[] {
    return this.present.objects.map((o) => ({ label: o.label, name: o.name, voxels: o.voxels, slices: [...o.slices.keys()] }));
  }

  /** What `onCommit` listeners get for the committed object `label` (its mask decoded only when asked for). */
  commitEvent(label: number): CommitEvent {
    const object = this.present.objects.find((o) => o.label === label)!;
    const n = this.source.width * this.source.height;
    return {
      label,
      name: object.name,
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
}
