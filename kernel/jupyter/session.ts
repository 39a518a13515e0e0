/**
 * Builds outgoing messages: one session id for the kernel's lifetime, fresh msg_ids, and the
 * parent header copied from the message being answered (which is how front ends route output
 * to the right cell and know when a request is done).
 */
import { randomUUID } from "node:crypto";
import { PROTOCOL_VERSION, type BufferLike, type JsonObject, type JupyterMessage, type MessageHeader } from "./wire.js";

export interface OutgoingOptions {
  metadata?: JsonObject;
  buffers?: readonly BufferLike[];
}

export class Session {
  readonly id = randomUUID();
  readonly username = "kernel";

  header(msgType: string): MessageHeader {
    return {
      msg_id: randomUUID(),
      session: this.id,
      username: this.username,
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
  }

  /**
   * A message parented to `parent` (or to nothing). Replies on shell/control must reuse the
   * request's identities so the ROUTER socket delivers them to the right client; iopub
   * messages carry a topic instead.
   */
  message<C>(
    msgType: string,
    content: C,
    parent: JupyterMessage<unknown> | undefined,
    identities: Buffer[],
    options: OutgoingOptions = {},
  ): JupyterMessage<C> {
    return {
      identities,
      header: this.header(msgType),
      parent_header: parent ? parent.header : {},
      metadata: options.metadata ?? {},
      content,
      buffers: (options.buffers ?? []).map((b) =>
        ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b),
      ),
    };
  }

  /** ipykernel's iopub topic convention; clients subscribe to everything, but logs read better. */
  topic(msgType: string): Buffer {
    return Buffer.from(`kernel.${this.id}.${msgType}`);
  }
}
