/** Framing and signatures of the Jupyter wire protocol, against an independent HMAC. */
import { createHmac } from "node:crypto";
import { describe, expect, test } from "vitest";
import { parseConnectionInfo } from "../../kernel/jupyter/connection.js";
import { Session } from "../../kernel/jupyter/session.js";
import { decodeMessage, DELIMITER, encodeMessage, Signer, toFrame, WireError, type JupyterMessage } from "../../kernel/jupyter/wire.js";

const KEY = "a0b1c2d3-secret";

function sample(buffers: Uint8Array[] = []): JupyterMessage {
  return new Session().message("comm_msg", { comm_id: "c1", data: { x: 1 } }, undefined, [Buffer.from("client-id")], { buffers });
}

describe("wire", () => {
  test("the signature is HMAC-SHA256 over exactly the four JSON frames", () => {
    const frames = encodeMessage(sample([new Uint8Array([1, 2, 3])]), new Signer(KEY));
    const at = frames.findIndex((f) => f.equals(DELIMITER));
    expect(frames.slice(0, at)).toEqual([Buffer.from("client-id")]);
    const hmac = createHmac("sha256", KEY);
    for (const f of frames.slice(at + 2, at + 6)) hmac.update(f);
    expect(frames[at + 1]!.toString()).toBe(hmac.digest("hex"));
    expect([...frames[at + 6]!]).toEqual([1, 2, 3]);
  });

  test("round trip keeps identities, JSON parts and buffers", () => {
    const signer = new Signer(KEY);
    const msg = sample([new Uint8Array([9, 8]), new Uint8Array(0)]);
    const back = decodeMessage(encodeMessage(msg, signer), signer);
    expect(back.identities).toEqual(msg.identities);
    expect(back.header).toEqual(msg.header);
    expect(back.content).toEqual(msg.content);
    expect(back.buffers.map((b) => [...b])).toEqual([[9, 8], []]);
  });

  test("buffers are not signed: changing one keeps the message valid", () => {
    const signer = new Signer(KEY);
    const frames = encodeMessage(sample([new Uint8Array([1, 2, 3])]), signer);
    frames[frames.length - 1] = Buffer.from([4, 5, 6, 7]);
    expect([...decodeMessage(frames, signer).buffers[0]!]).toEqual([4, 5, 6, 7]);
  });

  test("a changed JSON frame or a wrong key is rejected as a signature error", () => {
    const signer = new Signer(KEY);
    const frames = encodeMessage(sample(), signer);
    const at = frames.findIndex((f) => f.equals(DELIMITER));
    const tampered = [...frames];
    tampered[at + 5] = Buffer.from('{"comm_id":"c1","data":{"x":2}}');
    expect(() => decodeMessage(tampered, signer)).toThrow(expect.objectContaining({ kind: "signature" }));
    expect(() => decodeMessage(frames, new Signer("other key"))).toThrow(WireError);
  });

  test("an empty key disables signing", () => {
    const frames = encodeMessage(sample(), new Signer(""));
    const at = frames.findIndex((f) => f.equals(DELIMITER));
    expect(frames[at + 1]!.length).toBe(0);
    expect(decodeMessage(frames, new Signer("")).header.msg_type).toBe("comm_msg");
  });

  test("missing delimiter, too few frames and bad JSON are named", () => {
    const signer = new Signer(KEY);
    expect(() => decodeMessage([Buffer.from("x")], signer)).toThrow(/delimiter/);
    expect(() => decodeMessage([DELIMITER, Buffer.from("sig"), Buffer.from("{}")], signer)).toThrow(/frames after the delimiter/);
    const json = ["{not json", "{}", "{}", "{}"].map((s) => Buffer.from(s));
    expect(() => decodeMessage([DELIMITER, Buffer.from(signer.sign(json)), ...json], signer)).toThrow(/malformed header frame/);
  });

  test("toFrame sends only the bytes of a view into a larger buffer", () => {
    const big = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...toFrame(big.subarray(2, 5))]).toEqual([2, 3, 4]);
    expect([...toFrame(new Uint16Array(big.buffer, 4, 2))]).toEqual([4, 5, 6, 7]);
  });

  test("other hmac hashes work; non-hmac schemes are refused", () => {
    const signer = new Signer(KEY, "hmac-sha512");
    expect(signer.sign([Buffer.from("a")])).toBe(createHmac("sha512", KEY).update("a").digest("hex"));
    expect(() => new Signer(KEY, "rsa")).toThrow(/signature_scheme 'rsa'/);
  });
});

describe("connection file", () => {
  test("defaults and validation", () => {
    const info = parseConnectionInfo(
      JSON.stringify({ shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "k" }),
      "test.json",
    );
    expect(info).toMatchObject({ transport: "tcp", ip: "127.0.0.1", signature_scheme: "hmac-sha256" });
    expect(() => parseConnectionInfo('{"shell_port": 1}', "bad.json")).toThrow(/bad.json: iopub_port must be a positive integer/);
    expect(() => parseConnectionInfo("{", "broken.json")).toThrow(/broken.json is not JSON/);
  });
});
