/**
 * The Jupyter wire protocol (messaging spec 5.3): framing and HMAC signatures.
 *
 * A message on the wire is
 *   [identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]
 * The signature covers the four JSON frames only. Binary buffers are NOT signed: that is what
 * the reference implementations do, and a kernel that signs them (as tslab does) rejects every
 * widget message that carries a buffer.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const DELIMITER = Buffer.from("<IDS|MSG>");
export const PROTOCOL_VERSION = "5.3";

export type JsonObject = Record<string, unknown>;

export interface MessageHeader {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [key: string]: unknown;
}

/** Binary data a message can carry; sent as the exact bytes of the view. */
export type BufferLike = ArrayBuffer | ArrayBufferView;

export interface JupyterMessage<C = JsonObject> {
  /** ZMQ routing prefix (shell/control/stdin) or the topic (iopub). */
  identities: Buffer[];
  header: MessageHeader;
  /** The header of the message this one answers, or `{}`. */
  parent_header: MessageHeader | Record<string, never>;
  metadata: JsonObject;
  content: C;
  buffers: Uint8Array[];
}

/** Why an incoming message was refused; the kernel logs it and carries on. */
export class WireError extends Error {
  override name = "WireError";
  constructor(
    readonly kind: "no-delimiter" | "too-short" | "signature" | "json",
    message: string,
  ) {
    super(message);
  }
}

/** HMAC over the JSON frames. An empty key disables signing, as the messaging spec allows. */
export class Signer {
  private readonly algorithm: string;

  constructor(
    private readonly key: string,
    scheme = "hmac-sha256",
  ) {
    if (!scheme.startsWith("hmac-")) {
      throw new Error(`unsupported signature_scheme '${scheme}' in the connection file: expected hmac-<hash>, e.g. hmac-sha256.`);
    }
    this.algorithm = scheme.slice("hmac-".length);
    // Fails early (at kernel start) rather than on the first message if Node lacks the hash.
    createHmac(this.algorithm, "probe");
  }

  get enabled(): boolean {
    return this.key.length > 0;
  }

  sign(frames: readonly Buffer[]): string {
    if (!this.enabled) return "";
    const hmac = createHmac(this.algorithm, this.key);
    for (const frame of frames) hmac.update(frame);
    return hmac.digest("hex");
  }

  verify(signature: string, frames: readonly Buffer[]): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(frames), "ascii");
    const given = Buffer.from(signature, "ascii");
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/** A tight view on the bytes of `data`: a view into a larger ArrayBuffer sends only its own bytes. */
export function toFrame(data: BufferLike): Buffer {
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export function encodeMessage(msg: JupyterMessage<unknown>, signer: Signer): Buffer[] {
  const json = [msg.header, msg.parent_header, msg.metadata, msg.content].map((part) =>
    Buffer.from(JSON.stringify(part), "utf8"),
  );
  return [...msg.identities, DELIMITER, Buffer.from(signer.sign(json), "ascii"), ...json, ...msg.buffers.map(toFrame)];
}

function parseJson(frame: Buffer, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch (err) {
    throw new WireError("json", `malformed ${what} frame: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WireError("json", `malformed ${what} frame: expected a JSON object`);
  }
  return value as JsonObject;
}

/**
 * Splits, verifies and parses one incoming message. The signature is checked before any JSON
 * is parsed, so an unsigned message never reaches a handler.
 */
export function decodeMessage(frames: readonly Buffer[], signer: Signer): JupyterMessage {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new WireError("no-delimiter", "message without the <IDS|MSG> delimiter");
  if (frames.length < at + 6) {
    throw new WireError("too-short", `message has ${frames.length - at - 1} frames after the delimiter; at least 5 are needed`);
  }
  const signature = frames[at + 1]!.toString("ascii");
  const json = frames.slice(at + 2, at + 6);
  if (!signer.verify(signature, json)) throw new WireError("signature", "invalid HMAC signature");
  const header = parseJson(json[0]!, "header");
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") {
    throw new WireError("json", "malformed header: msg_type and msg_id must be strings");
  }
  return {
    identities: frames.slice(0, at),
    header: header as MessageHeader,
    parent_header: parseJson(json[1]!, "parent_header") as MessageHeader,
    metadata: parseJson(json[2]!, "metadata"),
    content: parseJson(json[3]!, "content"),
    // Copies, so a handler may keep them after ZMQ reuses its frame memory.
    buffers: frames.slice(at + 6).map((b) => new Uint8Array(b)),
  };
}
