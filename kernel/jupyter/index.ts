/**
 * What notebook code and the library's widgets use from the kernel: rich display, widgets,
 * comms. Re-exported by the package's public API; everything works only inside the MedicoSAM
 * kernel and says so clearly elsewhere.
 */
export { display, clearOutput, DisplayHandle, DISPLAY_SYMBOL, isDisplayable, type Displayable, type MimeBundle } from "./display.js";
export {
  kernelRuntime,
  maybeKernelRuntime,
  type KernelRuntime,
  type CommLike,
  type CommMessage,
  type CommManagerLike,
  type CommTargetHandler,
  type DisplayOptions,
} from "./runtime.js";
export {
  Widget,
  WIDGET_PROTOCOL_VERSION,
  WIDGET_VIEW_MIME,
  type WidgetModelIdentity,
  type WidgetChange,
  type WidgetChangeOrigin,
  type WidgetOptions,
  type WidgetDecoders,
} from "./widgets/widget.js";
export { removeBuffers, putBuffers, type BufferPath } from "./widgets/buffers.js";
