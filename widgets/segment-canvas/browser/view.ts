/**
 * The canvas for @jupyter-widgets/base (JupyterLab 4, Notebook 7, html-manager pages): a
 * DOMWidgetModel that turns binary fields into Uint8Array views, and a DOMWidgetView that
 * runs the `render({model, el})` core and its cleanup.
 */
import { DOMWidgetModel, DOMWidgetView, type ISerializers } from "@jupyter-widgets/base";
import { render, type ModelLike } from "./render.js";
import { MODEL_NAME, MODULE_NAME, MODULE_VERSION, VIEW_NAME } from "../common/state.js";

/** Buffers arrive as DataView; without a deserializer the default JSON clone would destroy them. */
const bytes = {
  deserialize: (value: unknown) =>
    value instanceof DataView ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : value,
};

export class SegmentCanvasModel extends DOMWidgetModel {
  override defaults() {
    return {
      ...super.defaults(),
      _model_name: MODEL_NAME,
      _model_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_name: VIEW_NAME,
      _view_module: MODULE_NAME,
      _view_module_version: MODULE_VERSION,
    };
  }

  static override serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    pixels: bytes,
    labels: bytes,
    current: bytes,
  };
}

export class SegmentCanvasView extends DOMWidgetView {
  private cleanup: (() => void) | undefined;

  override render(): void {
    this.cleanup = render({ model: this.model as unknown as ModelLike, el: this.el });
  }

  override remove(): unknown {
    this.cleanup?.();
    this.cleanup = undefined;
    return super.remove();
  }
}
