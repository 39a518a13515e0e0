/**
 * The Jupyter messaging protocol, end to end: the kernel process spoken to over real ZMQ sockets,
 * every message type it supports, binary buffers both ways, widget protocol parents, and the
 * failure cases (bad signature, broken JSON, a throwing comm handler, interrupts, shutdown).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DELIMITER, encodeMessage } from "../../kernel/jupyter/wire.js";
import { ofType, streamText, type Msg } from "./helpers/client.js";
import { REPO, startKernel, type RunningKernel } from "./helpers/kernel-process.js";

const PKG = (JSON.parse(readFileSync(`${REPO}/package.json`, "utf8")) as { name: string }).name;
const JUPYTER_API = `${PKG}/dist/kernel/jupyter/index.js`;

let k: RunningKernel;

beforeAll(async () => {
  k = await startKernel();
});

afterAll(async () => {
  await k?.stop();
});

function types(msgs: Msg[]): string[] {
  return msgs.map((m) => m.header.msg_type);
}

/** busy first, idle last, both parented to `msg`. */
function expectBusyIdle(msg: Msg, iopub: Msg[]): void {
  const statuses = ofType(iopub, "status").map((m) => m.content.execution_state);
  expect(statuses).toEqual(["busy", "idle"]);
  expect(iopub[0]!.content.execution_state).toBe("busy");
  expect(iopub.at(-1)!.content.execution_state).toBe("idle");
  for (const m of iopub) expect(m.parent_header.msg_id).toBe(msg.header.msg_id);
}

describe("requests and replies", () => {
  test("kernel_info_reply describes a TypeScript kernel, inside busy/idle", async () => {
    const msg = await k.client.send("shell", "kernel_info_request", {});
    const reply = await k.client.reply(msg);
    expect(reply.header.msg_type).toBe("kernel_info_reply");
    expect(reply.content).toMatchObject({
      status: "ok",
      protocol_version: "5.3",
      implementation: "medicosam",
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
    });
    expect(reply.content.language_info).toHaveProperty("version", expect.stringMatching(/^5\.\d+\.\d+$/));
    expectBusyIdle(msg, await k.client.idle(msg));
  });

  test("kernel_info on control also works", async () => {
    const msg = await k.client.send("control", "kernel_info_request", {});
    const reply = await k.client.reply(msg, 10_000, "control");
    expect(reply.content.status).toBe("ok");
    expectBusyIdle(msg, await k.client.idle(msg));
  });

  test("heartbeat echoes, even while a cell blocks the event loop", async () => {
    expect(await k.client.heartbeat("beat-1")).toBe("beat-1");
    const running = k.client.execute("const t0 = Date.now(); while (Date.now() - t0 < 2500) {}").then((r) => ({ ...r, at: Date.now() }));
    await k.client.waitIopub((m) => m.header.msg_type === "execute_input" && String(m.content.code).includes("t0"), "the blocking cell");
    const before = Date.now();
    expect(await k.client.heartbeat("beat-2")).toBe("beat-2");
    const echoedAt = Date.now();
    const cell = await running;
    expect(cell.reply.content.status).toBe("ok");
    // Echoed while the main thread was still stuck in the loop, not after it.
    expect(echoedAt - before).toBeLessThan(1000);
    expect(cell.at - echoedAt).toBeGreaterThan(500);
  });

  test("execute: execute_input, stdout, execute_result with the last value, counts", async () => {
    const first = await k.client.execute("const x: number = 20 + 1;\nconsole.log('x is', x);\nx * 2");
    expect(first.reply.content).toMatchObject({ status: "ok", user_expressions: {}, payload: [] });
    expectBusyIdle(first.msg, first.iopub);
    expect(types(first.iopub)).toEqual(["status", "execute_input", "stream", "execute_result", "status"]);
    const count = first.reply.content.execution_count as number;
    expect(ofType(first.iopub, "execute_input")[0]!.content).toEqual({ code: first.msg.content.code, execution_count: count });
    expect(streamText(first.iopub, "stdout")).toBe("x is 21\n");
    expect(ofType(first.iopub, "execute_result")[0]!.content).toEqual({ execution_count: count, data: { "text/plain": "42" }, metadata: {} });

    const second = await k.client.execute("x + 1");
    expect(second.reply.content.execution_count).toBe(count + 1);
    const silent = await k.client.execute("x + 2", { silent: true });
    expect(silent.reply.content.execution_count).toBe(count + 1);
    expect(types(silent.iopub)).toEqual(["status", "status"]);
  });

  test("a cell ending in a statement has no execute_result", async () => {
    const r = await k.client.execute("let unused = 5;");
    expect(types(r.iopub)).toEqual(["status", "execute_input", "status"]);
  });

  test("a thrown error is an `error` message and an error reply, not stderr", async () => {
    const r = await k.client.execute('function fail(): never { throw new RangeError("out of range: 7"); }\nfail();');
    expect(r.reply.content).toMatchObject({ status: "error", ename: "RangeError", evalue: "out of range: 7" });
    const [error] = ofType(r.iopub, "error");
    expect(error!.content.ename).toBe("RangeError");
    expect(error!.content.evalue).toBe("out of range: 7");
    const traceback = error!.content.traceback as string[];
    expect(traceback[0]).toBe("RangeError: out of range: 7");
    expect(traceback.some((line) => line.includes("at fail"))).toBe(true);
    // No frames of the kernel or of tslab.
    expect(traceback.join("\n")).not.toMatch(/tslab[\\/]dist|kernel[\\/]jupyter/);
    expect(streamText(r.iopub, "stderr")).toBe("");
  });

  test("a thrown non-Error value is reported as it is", async () => {
    const r = await k.client.execute('throw "50% done";');
    expect(r.reply.content).toMatchObject({ status: "error", ename: "Uncaught", evalue: "'50% done'" });
  });

  test("a type error is reported as a CompileError with the diagnostic", async () => {
    const r = await k.client.execute('const s: string = 12;');
    expect(r.reply.content).toMatchObject({ status: "error", ename: "CompileError" });
    expect(String(r.reply.content.evalue)).toContain("Type 'number' is not assignable to type 'string'");
    expect(ofType(r.iopub, "error")).toHaveLength(1);
    expect(streamText(r.iopub, "stderr")).toBe("");
  });

  test("after an error, cells already queued are aborted (stop_on_error)", async () => {
    const send = (code: string) =>
      k.client.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    const failing = await send('await new Promise((r) => setTimeout(r, 300)); throw new Error("first fails");');
    const queued = await send('console.log("must not run")');
    expect((await k.client.reply(failing)).content.status).toBe("error");
    const abortedReply = await k.client.reply(queued);
    expect(abortedReply.content.status).toBe("aborted");
    expect(streamText(await k.client.idle(queued), "stdout")).toBe("");
    // The kernel runs cells again afterwards.
    expect((await k.client.execute("1")).reply.content.status).toBe("ok");
  });

  test("complete, inspect, is_complete, history", async () => {
    await k.client.execute("const distinctiveName = { alpha: 1 };");
    const code = "distinctiveName.al";
    const complete = await k.client.send("shell", "complete_request", { code, cursor_pos: code.length });
    const completeReply = await k.client.reply(complete);
    expect(completeReply.content).toMatchObject({ status: "ok", cursor_end: code.length });
    expect(completeReply.content.matches).toContain("alpha");

    const inspect = await k.client.send("shell", "inspect_request", { code: "distinctiveName", cursor_pos: 3, detail_level: 0 });
    const inspectReply = await k.client.reply(inspect);
    expect(inspectReply.content).toMatchObject({ status: "ok", found: true });
    expect(String((inspectReply.content.data as Record<string, string>)["text/plain"])).toContain("alpha: number");

    const open = await k.client.send("shell", "is_complete_request", { code: "function f() {" });
    expect((await k.client.reply(open)).content).toMatchObject({ status: "incomplete" });
    const done = await k.client.send("shell", "is_complete_request", { code: "1 + 1" });
    expect((await k.client.reply(done)).content).toEqual({ status: "complete" });

    const history = await k.client.send("shell", "history_request", { output: false, raw: true, hist_access_type: "tail", n: 10 });
    const historyReply = await k.client.reply(history);
    expect(historyReply.header.msg_type).toBe("history_reply");
    expect(historyReply.content).toEqual({ status: "ok", history: [] });
    expectBusyIdle(history, await k.client.idle(history));
  });
});

describe("comms", () => {
  beforeAll(async () => {
    // A comm target defined by cell code, through the runtime handle our package looks up.
    const r = await k.client.execute(`
import { kernelRuntime } from "${JUPYTER_API}";
kernelRuntime().comms.registerTarget("test.echo", (comm, open) => {
  comm.send({ opened: open.data, openBuffers: open.buffers.length });
  comm.onMsg((msg) => {
    if (msg.data.fail) throw new TypeError("handler failed on purpose");
    // Reversed bytes prove the kernel read the buffers, not just forwarded frames.
    comm.send({ echo: msg.data, sizes: msg.buffers.map((b) => b.byteLength) }, { buffers: msg.buffers.map((b) => b.slice().reverse()) });
  });
});`);
    expect(r.reply.content.status).toBe("ok");
  });

  test("comm_open to an unknown target is answered with comm_close", async () => {
    const open = await k.client.send("shell", "comm_open", { comm_id: "nobody-home", target_name: "no.such.target", data: {} });
    const iopub = await k.client.idle(open);
    expectBusyIdle(open, iopub);
    expect(ofType(iopub, "comm_close").map((m) => m.content.comm_id)).toEqual(["nobody-home"]);
    const info = await k.client.send("shell", "comm_info_request", {});
    expect(Object.keys((await k.client.reply(info)).content.comms as object)).not.toContain("nobody-home");
  });

  test("binary buffers travel both ways, unsigned, exact bytes; replies are parented to the comm_msg", async () => {
    const open = await k.client.send(
      "shell",
      "comm_open",
      { comm_id: "echo-1", target_name: "test.echo", data: { hello: "kernel" } },
      { buffers: [new Uint8Array([5])] },
    );
    const opened = await k.client.idle(open);
    expect(ofType(opened, "comm_msg")[0]!.content).toEqual({ comm_id: "echo-1", data: { opened: { hello: "kernel" }, openBuffers: 1 } });

    const floats = new Float32Array([1.5, -2, 3.25]);
    // A view into a larger buffer: only its own bytes may travel.
    const big = new Uint8Array(64).map((_, i) => i);
    const view = big.subarray(10, 14);
    const msg = await k.client.send("shell", "comm_msg", { comm_id: "echo-1", data: { n: 2 } }, { buffers: [new Uint8Array(floats.buffer), view] });
    const iopub = await k.client.idle(msg);
    expectBusyIdle(msg, iopub);
    const [reply] = ofType(iopub, "comm_msg");
    expect(reply!.content.data).toEqual({ echo: { n: 2 }, sizes: [12, 4] });
    expect(reply!.buffers).toHaveLength(2);
    expect([...reply!.buffers[0]!]).toEqual([...new Uint8Array(floats.buffer)].reverse());
    expect([...reply!.buffers[1]!]).toEqual([13, 12, 11, 10]);

    const info = await k.client.send("shell", "comm_info_request", { target_name: "test.echo" });
    expect((await k.client.reply(info)).content).toEqual({ status: "ok", comms: { "echo-1": { target_name: "test.echo" } } });
  });

  test("an exception in a comm handler is reported under the comm_msg; the kernel carries on", async () => {
    const msg = await k.client.send("shell", "comm_msg", { comm_id: "echo-1", data: { fail: true } });
    const iopub = await k.client.idle(msg);
    expectBusyIdle(msg, iopub);
    const [error] = ofType(iopub, "error");
    expect(error!.content).toMatchObject({ ename: "TypeError", evalue: "handler failed on purpose" });
    expect(k.log()).toContain("handler failed on purpose");
    const again = await k.client.send("shell", "comm_msg", { comm_id: "echo-1", data: { after: 1 } });
    expect(ofType(await k.client.idle(again), "comm_msg")[0]!.content.data).toMatchObject({ echo: { after: 1 } });
  });

  test("comm_close from the front end closes the kernel side", async () => {
    const open = await k.client.send("shell", "comm_open", { comm_id: "echo-2", target_name: "test.echo", data: {} });
    await k.client.idle(open);
    const close = await k.client.send("shell", "comm_close", { comm_id: "echo-2", data: {} });
    expectBusyIdle(close, await k.client.idle(close));
    const info = await k.client.send("shell", "comm_info_request", {});
    expect(Object.keys((await k.client.reply(info)).content.comms as object)).not.toContain("echo-2");
  });

  test("comm messages are handled while a cell awaits a worker thread", async () => {
    const cell = k.client
      .execute(`
import { Worker } from "node:worker_threads";
const worker = new Worker("const t = Date.now(); while (Date.now() - t < 2500) {} require('node:worker_threads').parentPort.postMessage('worker done')", { eval: true });
await new Promise((resolve) => worker.once("message", resolve));`)
      .then((r) => ({ ...r, at: Date.now() }));
    await k.client.waitIopub((m) => m.header.msg_type === "execute_input" && String(m.content.code).includes("worker done"), "the worker cell");
    const msg = await k.client.send("shell", "comm_msg", { comm_id: "echo-1", data: { during: "worker" } });
    const iopub = await k.client.idle(msg);
    const answeredAt = Date.now();
    expect(ofType(iopub, "comm_msg")[0]!.content.data).toMatchObject({ echo: { during: "worker" } });
    const { reply, at } = await cell;
    expect(reply.content.status).toBe("ok");
    // Answered while the cell was still waiting for its worker.
    expect(at - answeredAt).toBeGreaterThan(500);
  });
});

describe("widgets (ipywidgets protocol 2.1.0)", () => {
  let modelId = "";
  let openMsgs: Msg[] = [];

  beforeAll(async () => {
    const r = await k.client.execute(`
import { Widget } from "${JUPYTER_API}";
interface SliderState { value: number; min: number; max: number; step: number; description: string; data: Uint8Array }
const slider = new Widget<SliderState>(
  {
    _model_module: "@jupyter-widgets/controls", _model_module_version: "2.0.0", _model_name: "IntSliderModel",
    _view_module: "@jupyter-widgets/controls", _view_module_version: "2.0.0", _view_name: "IntSliderView",
  },
  { value: 3, min: 0, max: 10, step: 1, description: "n", data: new Uint8Array([9, 8, 7]) },
);
const seen: string[] = [];
slider.onChange((c) => {
  seen.push(c.origin + ":" + Object.keys(c.changed).join(","));
  // A kernel-side reaction to a front-end change.
  if (c.origin === "frontend" && typeof c.changed.value === "number") slider.set({ max: c.changed.value * 2 });
});
slider.onCustom((content, buffers) => slider.send({ got: content, sizes: buffers.map((b) => b.byteLength) }, buffers));
slider`);
    expect(r.reply.content.status).toBe("ok");
    openMsgs = r.iopub;
    const [open] = ofType(r.iopub, "comm_open");
    modelId = String(open!.content.comm_id);
  });

  test("comm_open carries state and buffer_paths, then the cell's value displays the view", () => {
    const [open] = ofType(openMsgs, "comm_open");
    expect(open!.content.target_name).toBe("jupyter.widget");
    expect(open!.metadata).toEqual({ version: "2.1.0" });
    const data = open!.content.data as { state: Record<string, unknown>; buffer_paths: unknown };
    expect(data.state).toMatchObject({ _model_name: "IntSliderModel", _view_name: "IntSliderView", value: 3, max: 10 });
    expect(data.state).not.toHaveProperty("data");
    expect(data.buffer_paths).toEqual([["data"]]);
    expect([...open!.buffers[0]!]).toEqual([9, 8, 7]);
    const [result] = ofType(openMsgs, "execute_result");
    expect((result!.content.data as Record<string, unknown>)["application/vnd.jupyter.widget-view+json"]).toEqual({
      model_id: modelId,
      version_major: 2,
      version_minor: 1,
    });
    expect(types(openMsgs).indexOf("comm_open")).toBeLessThan(types(openMsgs).indexOf("execute_result"));
  });

  test("an update from the front end: echo_update parented to it, then the kernel's own update", async () => {
    const update = await k.client.send("shell", "comm_msg", { comm_id: modelId, data: { method: "update", state: { value: 7 }, buffer_paths: [] } });
    const iopub = await k.client.idle(update);
    expectBusyIdle(update, iopub);
    const sent = ofType(iopub, "comm_msg").map((m) => m.content.data as Record<string, unknown>);
    expect(sent).toEqual([
      { method: "echo_update", state: { value: 7 }, buffer_paths: [] },
      { method: "update", state: { max: 14 }, buffer_paths: [] },
    ]);
    const check = await k.client.execute('[slider.get("value"), slider.get("max"), seen.join(" ")]');
    expect(ofType(check.iopub, "execute_result")[0]!.content.data).toEqual({ "text/plain": "[ 7, 14, 'frontend:value kernel:max' ]" });
  });

  test("binary state from the front end is put back at its path and echoed with its buffer", async () => {
    const update = await k.client.send(
      "shell",
      "comm_msg",
      { comm_id: modelId, data: { method: "update", state: {}, buffer_paths: [["data"]] } },
      { buffers: [new Uint8Array([1, 2, 3, 4])] },
    );
    const [echo] = ofType(await k.client.idle(update), "comm_msg");
    expect(echo!.content.data).toEqual({ method: "echo_update", state: {}, buffer_paths: [["data"]] });
    expect([...echo!.buffers[0]!]).toEqual([1, 2, 3, 4]);
    const check = await k.client.execute('Array.from(slider.get("data"))');
    expect(ofType(check.iopub, "execute_result")[0]!.content.data).toEqual({ "text/plain": "[ 1, 2, 3, 4 ]" });
  });

  test("request_state is answered with the full state, parented to the request", async () => {
    const request = await k.client.send("shell", "comm_msg", { comm_id: modelId, data: { method: "request_state" } });
    const iopub = await k.client.idle(request);
    const [answer] = ofType(iopub, "comm_msg");
    expect(answer!.parent_header.msg_id).toBe(request.header.msg_id);
    const data = answer!.content.data as { method: string; state: Record<string, unknown>; buffer_paths: unknown };
    expect(data.method).toBe("update");
    expect(data.state).toMatchObject({ _model_module: "@jupyter-widgets/controls", value: 7, max: 14, description: "n" });
    expect(data.buffer_paths).toEqual([["data"]]);
    expect([...answer!.buffers[0]!]).toEqual([1, 2, 3, 4]);
  });

  test("custom messages with buffers both ways", async () => {
    const custom = await k.client.send(
      "shell",
      "comm_msg",
      { comm_id: modelId, data: { method: "custom", content: { action: "ping" } } },
      { buffers: [new Uint8Array([42, 43])] },
    );
    const [answer] = ofType(await k.client.idle(custom), "comm_msg");
    expect(answer!.content.data).toEqual({ method: "custom", content: { got: { action: "ping" }, sizes: [2] } });
    expect([...answer!.buffers[0]!]).toEqual([42, 43]);
  });

  test("jupyter.widget.control: request_states is answered with update_states of every widget", async () => {
    const open = await k.client.send("shell", "comm_open", {
      comm_id: "control-1",
      target_name: "jupyter.widget.control",
      data: {},
    }, { metadata: { version: "1.0.0" } });
    expect(ofType(await k.client.idle(open), "comm_close")).toEqual([]);
    const request = await k.client.send("shell", "comm_msg", { comm_id: "control-1", data: { method: "request_states" } });
    const [answer] = ofType(await k.client.idle(request), "comm_msg");
    expect(answer!.parent_header.msg_id).toBe(request.header.msg_id);
    const data = answer!.content.data as { method: string; states: Record<string, Record<string, unknown>>; buffer_paths: unknown };
    expect(data.method).toBe("update_states");
    expect(data.states[modelId]).toMatchObject({
      model_name: "IntSliderModel",
      model_module: "@jupyter-widgets/controls",
      model_module_version: "2.0.0",
      state: { value: 7, max: 14 },
    });
    expect(data.buffer_paths).toEqual([[modelId, "state", "data"]]);
    expect([...answer!.buffers[0]!]).toEqual([1, 2, 3, 4]);
  });

  test("display() shows the view in the current cell", async () => {
    const r = await k.client.execute("slider.display();");
    const [shown] = ofType(r.iopub, "display_data");
    expect((shown!.content.data as Record<string, unknown>)["application/vnd.jupyter.widget-view+json"]).toEqual({
      model_id: modelId,
      version_major: 2,
      version_minor: 1,
    });
  });

  test("a kernel-side set sends update; close sends comm_close", async () => {
    const r = await k.client.execute('slider.set({ description: "changed" }); slider.close();');
    const comm = r.iopub.filter((m) => m.header.msg_type.startsWith("comm_"));
    expect(comm.map((m) => [m.header.msg_type, m.content])).toEqual([
      ["comm_msg", { comm_id: modelId, data: { method: "update", state: { description: "changed" }, buffer_paths: [] } }],
      ["comm_close", { comm_id: modelId, data: {} }],
    ]);
  });
});

describe("display from library code", () => {
  test("PNG bytes, multi-mime bundles and updatable displays", async () => {
    const r = await k.client.execute(`
import { display } from "${JUPYTER_API}";
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
display({ "image/png": png, "text/plain": "a picture" });
const handle = display({ "text/html": "<div>plot</div>", "image/png": png.subarray(0, 4), "text/plain": "plot" });
handle.update({ "text/html": "<div>plot v2</div>" });`);
    expect(r.reply.content.status).toBe("ok");
    const displays = ofType(r.iopub, "display_data");
    expect(displays).toHaveLength(2);
    expect(displays[0]!.content.data).toEqual({ "image/png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]).toString("base64"), "text/plain": "a picture" });
    expect(displays[1]!.content.data).toEqual({ "text/html": "<div>plot</div>", "image/png": Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString("base64"), "text/plain": "plot" });
    const [update] = ofType(r.iopub, "update_display_data");
    expect(update!.content.data).toEqual({ "text/html": "<div>plot v2</div>" });
    expect((update!.content.transient as { display_id: string }).display_id).toBe(
      (displays[1]!.content.transient as { display_id: string }).display_id,
    );
  });

  test("a cell whose value is displayable shows its bundle", async () => {
    const r = await k.client.execute('({ [Symbol.for("Jupyter.display")]() { return { "text/html": "<b>rich</b>" }; } })');
    const [result] = ofType(r.iopub, "execute_result");
    expect((result!.content.data as Record<string, string>)["text/html"]).toBe("<b>rich</b>");
  });

  test("tslab's own display API still works", async () => {
    const r = await k.client.execute('import * as tslab from "tslab";\ntslab.display.html("<i>from tslab</i>");');
    expect(ofType(r.iopub, "display_data")[0]!.content.data).toEqual({ "text/html": "<i>from tslab</i>" });
  });

  test("the package main entry imports from a folder without node_modules, with types", async () => {
    // The kernel runs in an empty temp folder: both the compiler and require() are redirected.
    const ok = await k.client.execute(`import { DEFAULT_INTENSITY } from "${PKG}";\ntypeof DEFAULT_INTENSITY`);
    expect(ok.reply.content.status).toBe("ok");
    expect(ofType(ok.iopub, "execute_result")[0]!.content.data).toEqual({ "text/plain": "'object'" });
    // Types come from the package's .d.ts: a wrong call is a compile error.
    const bad = await k.client.execute(`import { display as show } from "${JUPYTER_API}";\nshow(42);`);
    expect(bad.reply.content.ename).toBe("CompileError");
    expect(String(bad.reply.content.evalue)).toContain("'number'");
  });
});

describe("robustness", () => {
  test("a message with a bad signature is rejected without reply, and the kernel stays alive", async () => {
    const msg = k.client.message("kernel_info_request", {});
    const frames = encodeMessage(msg, k.client.signer);
    const at = frames.findIndex((f) => f.equals(DELIMITER));
    frames[at + 1] = Buffer.from("0".repeat(64));
    await k.client.sendRaw("shell", frames);
    const probe = await k.client.send("shell", "kernel_info_request", {});
    await k.client.reply(probe);
    await k.client.idle(probe);
    expect(k.client.shellIn.all.some((m) => m.parent_header.msg_id === msg.header.msg_id)).toBe(false);
    expect(k.client.iopubFor(msg)).toEqual([]);
    expect(k.log()).toContain("invalid HMAC signature");
  });

  test("malformed JSON (correctly signed) is rejected and the kernel stays alive", async () => {
    const json = [Buffer.from('{"msg_id": "broken", "msg_type": "kernel_info_request"'), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    await k.client.sendRaw("shell", [DELIMITER, Buffer.from(k.client.signer.sign(json)), ...json]);
    await k.client.sendRaw("shell", [Buffer.from("no delimiter at all")]);
    const probe = await k.client.send("shell", "kernel_info_request", {});
    expect((await k.client.reply(probe)).content.status).toBe("ok");
    expect(k.log()).toContain("malformed header frame");
    expect(k.log()).toContain("without the <IDS|MSG> delimiter");
  });

  test("interrupt_request on control stops an awaiting cell and fires its interrupt signal", async () => {
    const cell = k.client.execute(`
import { kernelRuntime } from "${JUPYTER_API}";
(globalThis as any).sawAbort = false;
kernelRuntime().interruptSignal.addEventListener("abort", () => { (globalThis as any).sawAbort = true; });
await new Promise((resolve) => setTimeout(resolve, 60_000));`);
    await k.client.waitIopub((m) => m.header.msg_type === "execute_input" && String(m.content.code).includes("sawAbort"), "the long cell");
    const started = Date.now();
    const interrupt = await k.client.send("control", "interrupt_request", {});
    expect((await k.client.reply(interrupt, 10_000, "control")).content).toEqual({ status: "ok" });
    const { reply } = await cell;
    expect(reply.content).toMatchObject({ status: "error", ename: "Interrupted" });
    expect(Date.now() - started).toBeLessThan(5000);
    const check = await k.client.execute("(globalThis as any).sawAbort");
    expect(ofType(check.iopub, "execute_result")[0]!.content.data).toEqual({ "text/plain": "true" });
  });

  test("SIGINT stops a synchronous endless loop", async () => {
    const cell = k.client.execute("while (true) {}");
    await k.client.waitIopub((m) => m.header.msg_type === "execute_input" && m.content.code === "while (true) {}", "the endless loop");
    await new Promise((r) => setTimeout(r, 300));
    k.proc.kill("SIGINT");
    const { reply } = await cell;
    expect(reply.content).toMatchObject({ status: "error", ename: "Interrupted" });
    expect((await k.client.execute("2 + 2")).reply.content.status).toBe("ok");
  });
});

describe("shutdown", () => {
  test("the kernel ends when the process that started it (JPY_PARENT_PID) is gone", async () => {
    const parent = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    const kernel = await startKernel({ env: { JPY_PARENT_PID: String(parent.pid) } });
    try {
      expect((await kernel.client.execute("1")).reply.content.status).toBe("ok");
      parent.kill("SIGKILL");
      expect(await kernel.exited).toBe(0);
      expect(kernel.log()).toContain(`the process that started the kernel (${parent.pid}) is gone`);
    } finally {
      parent.kill("SIGKILL");
      await kernel.stop();
    }
  });


  test.each([false, true])("shutdown_request (restart: %s) is answered, then the process exits cleanly", async (restart) => {
    const kernel = await startKernel();
    try {
      const msg = await kernel.client.send("control", "shutdown_request", { restart });
      const reply = await kernel.client.reply(msg, 10_000, "control");
      expect(reply.content).toEqual({ status: "ok", restart });
      await kernel.client.idle(msg);
      expect(await kernel.exited).toBe(0);
    } finally {
      await kernel.stop();
    }
  });
});
