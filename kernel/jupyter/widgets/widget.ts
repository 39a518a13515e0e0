/**
 * The kernel side of a Jupyter widget (ipywidgets message protocol 2.1.0).
 *
 * One comm per model on target `jupyter.widget`. The kernel opens it with the full state; after
 * that both sides send `update {state, buffer_paths}` with the changed keys. An update from a
 * front end is answered with `echo_update` (so other views of the same model follow) before the
 * kernel's own listeners run. `request_state` is answered at once with a full `update`.
 * `custom` messages carry anything else, with buffers, both ways.
 *
 * State is typed: `class Viewer extends Widget<ViewerState>`. Values that are ArrayBuffers or
 * typed arrays travel as binary buffers; other widgets travel as "IPY_MODEL_<id>" references.
 */
import { DISPLAY_SYMBOL, type Displayable } from "../display.js";
import { kernelRuntime, type CommLike, type CommMessage, type KernelRuntime, type MimeBundle } from "../runtime.js";
import type { JsonObject } from "../wire.js";
import { putBuffers, removeBuffers } from "./buffers.js";

export const WIDGET_PROTOCOL_VERSION = "2.1.0";
export const WIDGET_TARGET = "jupyter.widget";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** Which front-end classes render the model: module names and semver ranges, as the front end registered them. */
export interface WidgetModelIdentity {
  _model_module: string;
  _model_module_version: string;
  _model_name: string;
  _view_module: string | null;
  _view_module_version: string;
  _view_name: string | null;
}

export type WidgetChangeOrigin = "frontend" | "kernel";

export interface WidgetChange<S> {
  /** The keys that changed, with their new values. */
  changed: Partial<S>;
  previous: Partial<S>;
  origin: WidgetChangeOrigin;
}

export type WidgetDecoders<S> = { [K in keyof S]?: (wire: unknown) => S[K] };

export interface WidgetOptions<S> {
  /**
   * Turns values from the front end into state values. Binary values arrive as Uint8Array; a
   * Float32Array field needs `(b) => new Float32Array(...)` here. Without a decoder the value is
   * taken as it arrived.
   */
  decode?: WidgetDecoders<S>;
  /** The kernel to talk to; defaults to the running one. */
  runtime?: KernelRuntime;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Other widgets in the state become "IPY_MODEL_<id>", the protocol's reference form. */
function referencesToWire(value: unknown): unknown {
  if (value instanceof Widget) return `IPY_MODEL_${value.modelId}`;
  if (Array.isArray(value)) return value.map(referencesToWire);
  if (isObject(value) && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, referencesToWire(v)]));
  }
  return value;
}

export class Widget<S extends object> implements Displayable {
  readonly modelId: string;
  private readonly comm: CommLike;
  private readonly runtime: KernelRuntime;
  private current: S & WidgetModelIdentity;
  private readonly decoders: WidgetDecoders<S>;
  private readonly changeListeners = new Set<(change: WidgetChange<S>) => void>();
  private readonly customListeners = new Set<(content: unknown, buffers: Uint8Array[]) => void | Promise<void>>();
  /** Keys just received from the front end, with their values: not sent back as updates. */
  private lock: Partial<Record<keyof S, unknown>> = {};

  constructor(identity: WidgetModelIdentity, initial: S, options: WidgetOptions<S> = {}) {
    this.runtime = options.runtime ?? kernelRuntime();
    this.decoders = options.decode ?? {};
    this.current = { ...initial, ...identity };
    const { state, buffer_paths, buffers } = this.wireState(this.current as Record<string, unknown>);
    this.comm = this.runtime.comms.open(
      WIDGET_TARGET,
      { state, buffer_paths },
      { metadata: { version: WIDGET_PROTOCOL_VERSION }, buffers },
    );
    this.modelId = this.comm.id;
    this.comm.onMsg((msg) => this.receive(msg));
    this.comm.onClose(() => this.runtime.widgets.remove(this.modelId));
    this.runtime.widgets.add({ modelId: this.modelId, fullState: () => this.fullState() });
  }

  /** The whole state, identity keys included. Do not mutate: use `set`. */
  get state(): Readonly<S & WidgetModelIdentity> {
    return this.current;
  }

  get<K extends keyof S>(key: K): S[K] {
    return this.current[key];
  }

  get closed(): boolean {
    return this.comm.closed;
  }

  /** Changes state and syncs the changed keys to every front end. */
  set(patch: Partial<S>): void {
    const changed: Partial<S> = {};
    const previous: Partial<S> = {};
    for (const key of Object.keys(patch) as (keyof S)[]) {
      const value = patch[key];
      if (Object.is(this.current[key], value)) continue;
      previous[key] = this.current[key];
      changed[key] = value;
    }
    if (Object.keys(changed).length === 0) return;
    this.current = { ...this.current, ...changed };
    const toSend: Record<string, unknown> = {};
    for (const key of Object.keys(changed) as (keyof S & string)[]) {
      // A listener reacting to a front-end change does not bounce the same value back.
      if (key in this.lock && Object.is(this.lock[key], changed[key])) continue;
      toSend[key] = changed[key];
    }
    if (Object.keys(toSend).length > 0) {
      const { state, buffer_paths, buffers } = this.wireState(toSend);
      this.comm.send({ method: "update", state, buffer_paths }, { buffers });
    }
    this.emitChange({ changed, previous, origin: "kernel" });
  }

  /** Called after every change, from either side. Returns a function that removes the listener. */
  onChange(listener: (change: WidgetChange<S>) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Custom messages from the front end (`model.send(content, callbacks, buffers)` there). */
  onCustom(listener: (content: unknown, buffers: Uint8Array[]) => void | Promise<void>): () => void {
    this.customListeners.add(listener);
    return () => this.customListeners.delete(listener);
  }

  /** Sends a custom message to every front-end model of this widget. */
  send(content: unknown, buffers: readonly (ArrayBuffer | ArrayBufferView)[] = []): void {
    this.comm.send({ method: "custom", content }, { buffers });
  }

  /** Shows a view of the widget in the current cell's output. */
  display(): void {
    this.runtime.display(this[DISPLAY_SYMBOL]());
  }

  /** Closes the comm: front ends remove the model and its views. */
  close(): void {
    this.comm.close();
  }

  [DISPLAY_SYMBOL](): MimeBundle {
    return {
      [WIDGET_VIEW_MIME]: { model_id: this.modelId, version_major: 2, version_minor: 1 },
      "text/plain": `${this.current._model_name}(model_id='${this.modelId}')`,
    };
  }

  /** What `jupyter.widget.control`'s `update_states` reports for this widget. */
  fullState(): { model_name: string; model_module: string; model_module_version: string; state: Record<string, unknown> } {
    return {
      model_name: this.current._model_name,
      model_module: this.current._model_module,
      model_module_version: this.current._model_module_version,
      state: referencesToWire(this.current) as Record<string, unknown>,
    };
  }

  private wireState(state: Record<string, unknown>) {
    return removeBuffers(referencesToWire(state) as Record<string, unknown>);
  }

  private emitChange(change: WidgetChange<S>): void {
    let failure: { error: unknown } | undefined;
    for (const listener of [...this.changeListeners]) {
      try {
        listener(change);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }

  private async receive(msg: CommMessage): Promise<void> {
    const method = msg.data.method;
    if (method === "update") return this.receiveUpdate(msg);
    if (method === "request_state") {
      const { state, buffer_paths, buffers } = this.wireState(this.current as Record<string, unknown>);
      this.comm.send({ method: "update", state, buffer_paths }, { buffers });
      return;
    }
    if (method === "custom") {
      let failure: { error: unknown } | undefined;
      for (const listener of [...this.customListeners]) {
        try {
          await listener(msg.data.content, msg.buffers);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
      return;
    }
    throw new Error(`widget ${this.modelId} got a message with unknown method '${String(method)}' (expected update, request_state or custom)`);
  }

  private receiveUpdate(msg: CommMessage): void {
    const wire = msg.data.state;
    if (!isObject(wire)) throw new Error(`widget ${this.modelId}: update without a state object`);
    // Echo first, exactly as received, so every other view converges on the same value.
    this.comm.send(
      { method: "echo_update", state: wire as JsonObject, buffer_paths: msg.data.buffer_paths ?? [] },
      { buffers: msg.buffers },
    );
    const received = structuredClone(wire);
    putBuffers(received, msg.data.buffer_paths, msg.buffers);
    const changed: Partial<S> = {};
    const previous: Partial<S> = {};
    for (const [key, raw] of Object.entries(received) as [keyof S & string, unknown][]) {
      const decode = this.decoders[key];
      const value = (decode ? decode(raw) : raw) as S[typeof key];
      previous[key] = this.current[key];
      changed[key] = value;
    }
    this.current = { ...this.current, ...changed };
    this.lock = changed;
    try {
      this.emitChange({ changed, previous, origin: "frontend" });
    } finally {
      this.lock = {};
    }
  }
}
