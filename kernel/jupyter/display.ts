/**
 * Rich output from library code, without a cell having to pass tslab's `display` around.
 *
 * A value is displayable when it has a `[Symbol.for("Jupyter.display")]()` method returning a
 * mime bundle (Deno's convention, so objects written for Deno's kernel display here too). A
 * cell whose last value is displayable shows that bundle as its result.
 */
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { kernelRuntime, type MimeBundle } from "./runtime.js";
import type { JsonObject } from "./wire.js";

export type { MimeBundle } from "./runtime.js";

export const DISPLAY_SYMBOL: unique symbol = Symbol.for("Jupyter.display");

export interface Displayable {
  [DISPLAY_SYMBOL](): MimeBundle | Promise<MimeBundle>;
}

export function isDisplayable(value: unknown): value is Displayable {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as Partial<Displayable>)[DISPLAY_SYMBOL] === "function"
  );
}

function isBytes(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/**
 * The JSON form of a bundle: bytes (PNG, JPEG, ...) become base64 as the messaging spec wants; strings and
 * JSON values (application/json, widget views, plotly figures) pass through.
 */
export function encodeBundle(bundle: MimeBundle): JsonObject {
  const out: JsonObject = {};
  for (const [mime, value] of Object.entries(bundle)) {
    if (value === undefined) continue;
    if (!/^[\w\-+.]+\/[\w\-+.]+$/.test(mime)) {
      throw new Error(`'${mime}' is not a mime type (type/subtype); a display bundle maps mime types to data.`);
    }
    if (isBytes(value)) {
      const view = ArrayBuffer.isView(value) ? value : new Uint8Array(value);
      out[mime] = Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("base64");
    } else {
      out[mime] = value;
    }
  }
  return out;
}

/** The bundle a cell result shows: the value's own, or its `util.inspect` text. */
export async function resultBundle(value: unknown): Promise<MimeBundle> {
  if (!isDisplayable(value)) return { "text/plain": inspect(value) };
  const bundle = await value[DISPLAY_SYMBOL]();
  if (bundle === null || typeof bundle !== "object") {
    throw new Error(`[Symbol.for("Jupyter.display")]() must return a mime bundle object, got ${inspect(bundle)}`);
  }
  return "text/plain" in bundle ? bundle : { ...bundle, "text/plain": inspect(value, { depth: 0 }) };
}

export function newDisplayId(): string {
  return randomBytes(8).toString("hex");
}

/**
 * One output area that can be replaced later (progress images, live plots). Updates go through
 * the kernel's update_display_data, which replaces every output showing this display id.
 */
export class DisplayHandle {
  private pending: Promise<void> = Promise.resolve();

  constructor(readonly id: string = newDisplayId()) {}

  /** Resolves when every bundle given so far has been sent (async displayables take a moment). */
  get sent(): Promise<void> {
    return this.pending;
  }

  show(what: MimeBundle | Displayable, metadata?: JsonObject): this {
    return this.emit(what, false, metadata);
  }

  update(what: MimeBundle | Displayable, metadata?: JsonObject): this {
    return this.emit(what, true, metadata);
  }

  private emit(what: MimeBundle | Displayable, update: boolean, metadata?: JsonObject): this {
    const runtime = kernelRuntime();
    const bundle = isDisplayable(what) ? what[DISPLAY_SYMBOL]() : what;
    const send = (b: MimeBundle) => runtime.display(b, { displayId: this.id, update, metadata });
    // Synchronous bundles go out at once, so they interleave correctly with console output,
    // unless an earlier async one is still on its way: then the order of calls wins.
    if (!(bundle instanceof Promise) && this.waiting === 0) {
      send(bundle);
      return this;
    }
    this.waiting++;
    this.pending = this.pending
      .catch(() => undefined)
      .then(() => bundle)
      .then(send)
      .finally(() => {
        this.waiting--;
      });
    return this;
  }

  private waiting = 0;
}

/** Shows a bundle (`{"text/html": ..., "image/png": bytes}`) or a displayable in the current cell. */
export function display(what: MimeBundle | Displayable, options: { metadata?: JsonObject; displayId?: string } = {}): DisplayHandle {
  return new DisplayHandle(options.displayId).show(what, options.metadata);
}

/** Clears the current cell's output; with `wait`, only when the next output arrives (no flicker). */
export function clearOutput(wait = false): void {
  kernelRuntime().clearOutput(wait);
}
