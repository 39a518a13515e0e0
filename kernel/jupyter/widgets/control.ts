/**
 * The `jupyter.widget.control` comm: when a page (re)loads, the widget manager asks for the
 * state of every live widget in one message instead of one `request_state` per model. Without
 * an answer it waits for a timeout (4 s) on every reload.
 */
import type { CommManagerLike, WidgetRecord, WidgetRegistryLike } from "../runtime.js";
import { removeBuffers } from "./buffers.js";

export const WIDGET_CONTROL_TARGET = "jupyter.widget.control";

export class WidgetRegistry implements WidgetRegistryLike {
  private readonly widgets = new Map<string, WidgetRecord>();

  add(widget: WidgetRecord): void {
    this.widgets.set(widget.modelId, widget);
  }
  remove(modelId: string): void {
    this.widgets.delete(modelId);
  }
  all(): WidgetRecord[] {
    return [...this.widgets.values()];
  }
}

/** `{model_id: {model_name, model_module, model_module_version, state}}` with buffers split out, as ipywidgets sends it. */
export function updateStates(registry: WidgetRegistryLike) {
  const states: Record<string, unknown> = {};
  for (const widget of registry.all()) states[widget.modelId] = widget.fullState();
  return removeBuffers(states);
}

export function registerWidgetControl(comms: CommManagerLike, registry: WidgetRegistryLike): () => void {
  return comms.registerTarget(WIDGET_CONTROL_TARGET, (comm) => {
    comm.onMsg((msg) => {
      if (msg.data.method !== "request_states") {
        throw new Error(`${WIDGET_CONTROL_TARGET}: unknown method '${String(msg.data.method)}' (expected request_states)`);
      }
      const { state, buffer_paths, buffers } = updateStates(registry);
      comm.send({ method: "update_states", states: state, buffer_paths }, { buffers });
    });
  });
}
