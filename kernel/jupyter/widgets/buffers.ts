/**
 * Binary values in widget state (ipywidgets protocol 2): every ArrayBuffer or typed array,
 * however deep in the state, travels as a separate message buffer, and `buffer_paths` says where
 * it goes back. A path ending in an object key means the key is absent from the JSON; one ending
 * in an array index means the element is null. Same rules as ipywidgets' `_remove_buffers`.
 */
export type BufferPath = (string | number)[];

export interface SplitState<T> {
  state: T;
  buffer_paths: BufferPath[];
  buffers: Uint8Array[];
}

export function isBinary(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Exactly the bytes of the view (a view into a larger buffer sends only its own part). */
export function bytesOf(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
}

function separate(value: unknown, path: BufferPath, paths: BufferPath[], buffers: Uint8Array[]): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      let replacement: unknown = item;
      if (isBinary(item)) {
        buffers.push(bytesOf(item));
        paths.push([...path, i]);
        replacement = null;
      } else if (Array.isArray(item) || isPlainObject(item)) {
        replacement = separate(item, [...path, i], paths, buffers);
      }
      if (replacement !== item) {
        // Copy on first change only: the caller's state is never modified.
        out ??= value.slice();
        out[i] = replacement;
      }
    });
    return out ?? value;
  }
  if (isPlainObject(value)) {
    let out: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      if (isBinary(item)) {
        buffers.push(bytesOf(item));
        paths.push([...path, key]);
        out ??= { ...value };
        delete out[key];
      } else if (Array.isArray(item) || isPlainObject(item)) {
        const replacement = separate(item, [...path, key], paths, buffers);
        if (replacement !== item) {
          out ??= { ...value };
          out[key] = replacement;
        }
      }
    }
    return out ?? value;
  }
  return value;
}

/** Splits binary values out of `state` without modifying it. */
export function removeBuffers<T extends Record<string, unknown>>(state: T): SplitState<Record<string, unknown>> {
  const buffer_paths: BufferPath[] = [];
  const buffers: Uint8Array[] = [];
  const out = separate(state, [], buffer_paths, buffers) as Record<string, unknown>;
  return { state: out, buffer_paths, buffers };
}

/** Puts received buffers back into `state` (modified in place: it came fresh off the wire). */
export function putBuffers(state: Record<string, unknown>, paths: unknown, buffers: readonly Uint8Array[]): void {
  if (paths === undefined) return;
  if (!Array.isArray(paths)) throw new Error("buffer_paths must be a list of paths");
  if (paths.length !== buffers.length) {
    throw new Error(`buffer_paths lists ${paths.length} paths but the message carries ${buffers.length} buffers`);
  }
  paths.forEach((path, i) => {
    if (!Array.isArray(path) || path.length === 0 || !path.every((k) => typeof k === "string" || typeof k === "number")) {
      throw new Error(`buffer path ${JSON.stringify(path)} is not a non-empty list of keys and indices`);
    }
    let target: Record<string | number, unknown> = state;
    for (const key of path.slice(0, -1) as (string | number)[]) {
      const next = target[key];
      if (next === null || typeof next !== "object") {
        throw new Error(`buffer path ${JSON.stringify(path)} does not lead to an object or list in the state`);
      }
      target = next as Record<string | number, unknown>;
    }
    target[path[path.length - 1] as string | number] = buffers[i];
  });
}
