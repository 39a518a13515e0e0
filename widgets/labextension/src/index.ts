/**
 * The JupyterLab 4 / Notebook 7 plugin: registers the canvas's model and view classes with
 * the widget manager (jupyterlab_widgets), under the module name the kernel asks for.
 */
import { IJupyterWidgetRegistry } from "@jupyter-widgets/base";
import { MODULE_NAME, MODULE_VERSION } from "../../segment-canvas/common/state.js";
import * as classes from "../../segment-canvas/browser/view.js";

/** The shape of a JupyterFrontEndPlugin, spelled out so the bundle needs nothing from @jupyterlab/application. */
const plugin = {
  id: `${MODULE_NAME}:plugin`,
  description: "MedicoSAM widgets: the segmentation canvas",
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate(_app: unknown, registry: IJupyterWidgetRegistry): void {
    registry.registerWidget({ name: MODULE_NAME, version: MODULE_VERSION, exports: { ...classes } });
  },
};

export default plugin;
