/**
 * The comm manager and the widget base class without a kernel process: a recording publisher
 * stands in for iopub, so the exact messages and their order can be checked.
 */
import { describe, expect, test } from "vitest";
import { CommManager, type CommMsgType } from "../../kernel/jupyter/comm.js";
import type { KernelRuntime, SendOptions } from "../../kernel/jupyter/runtime.js";
import { kernelRuntime } from "../../kernel/jupyter/runtime.js";
import { putBuffers, removeBuffers } from "../../kernel/jupyter/widgets/buffers.js";
import { registerWidgetControl, WidgetRegistry } from "../../kernel/jupyter/widgets/control.js";
import { Widget } from "../../kernel/jupyter/widgets/widget.js";
import { Session } from "../../kernel/jupyter/session.js";

interface Sent {
  type: CommMsgType;
  content: Record<string, unknown>;
  buffers: number[][];
}

function fakeKernel() {
  const sent: Sent[] = [];
  const warnings: string[] = [];
  const comms = new CommManager(
    (type, content, options: SendOptions) =>
      sent.push({ type, content, buffers: (options.buffers ?? []).map((b) => [...new Uint8Array(ArrayBuffer.isView(b) ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) : b)]) }),
    { warn: (...args) => warnings.push(args.join(" ")) },
  );
  const widgets = new WidgetRegistry();
  registerWidgetControl(comms, widgets);
  const runtime: KernelRuntime = {
    version: 1,
    comms,
    widgets,
    display: () => undefined,
    clearOutput: () => undefined,
    interruptSignal: new AbortController().signal,
  };
  const session = new Session();
  const incoming = (type: string, content: Record<string, unknown>, buffers: Uint8Array[] = []) =>
    session.message(type, content, undefined, [], { buffers });
  return { sent, warnings, comms, widgets, runtime, incoming };
}

const SLIDER = {
  _model_module: "@jupyter-widgets/controls",
  _model_module_version: "2.0.0",
  _model_name: "IntSliderModel",
  _view_module: "@jupyter-widgets/controls",
  _view_module_version: "2.0.0",
  _view_name: "IntSliderView",
};

describe("buffers", () => {
  test("removeBuffers follows ipywidgets: keys removed, list items null, input untouched", () => {
    const a = new Uint8Array([1]);
    const b = new Float32Array([2]);
    const state = { plain: [0, "text"], x: { ar: a }, y: [b, 5, { deep: new Uint8Array([3, 4]) }] };
    const split = removeBuffers(state);
    expect(split.state).toEqual({ plain: [0, "text"], x: {}, y: [null, 5, {}] });
    expect(split.buffer_paths).toEqual([["x", "ar"], ["y", 0], ["y", 2, "deep"]]);
    expect(split.buffers.map((x) => x.byteLength)).toEqual([1, 4, 2]);
    expect(state.x.ar).toBe(a);
    expect(state.y[0]).toBe(b);
    putBuffers(split.state, split.buffer_paths, split.buffers);
    expect((split.state.y as unknown[])[0]).toBeInstanceOf(Uint8Array);
    expect([...((split.state.x as { ar: Uint8Array }).ar)]).toEqual([1]);
  });

  test("putBuffers names mismatches", () => {
    expect(() => putBuffers({}, [["a"]], [])).toThrow(/lists 1 paths but the message carries 0 buffers/);
    expect(() => putBuffers({ a: 1 }, [["a", "b"]], [new Uint8Array(1)])).toThrow(/does not lead to an object/);
  });
});

describe("comm manager", () => {
  test("unknown targets are closed; known ones get the open data and buffers", async () => {
    const k = fakeKernel();
    await k.comms.handleOpen(k.incoming("comm_open", { comm_id: "u1", target_name: "nope", data: {} }));
    expect(k.sent).toEqual([{ type: "comm_close", content: { comm_id: "u1", data: {} }, buffers: [] }]);
    let opened: unknown;
    k.comms.registerTarget("t", (comm, msg) => {
      opened = [comm.id, msg.data, msg.buffers.map((b) => [...b])];
    });
    await k.comms.handleOpen(k.incoming("comm_open", { comm_id: "c1", target_name: "t", data: { a: 1 } }, [new Uint8Array([5])]));
    expect(opened).toEqual(["c1", { a: 1 }, [[5]]]);
    expect(k.comms.info("t")).toEqual({ c1: { target_name: "t" } });
  });

  test("a target handler that throws leaves no comm open and the error propagates", async () => {
    const k = fakeKernel();
    k.comms.registerTarget("bad", () => {
      throw new Error("setup failed");
    });
    await expect(k.comms.handleOpen(k.incoming("comm_open", { comm_id: "b1", target_name: "bad", data: {} }))).rejects.toThrow("setup failed");
    expect(k.comms.info()).toEqual({});
    expect(k.sent.at(-1)).toMatchObject({ type: "comm_close", content: { comm_id: "b1" } });
  });

  test("all handlers run even when one throws; sending on a closed comm is refused", async () => {
    const k = fakeKernel();
    const comm = k.comms.open("t", { hi: 1 });
    const got: string[] = [];
    comm.onMsg(() => {
      throw new Error("first handler");
    });
    comm.onMsg(() => {
      got.push("second ran");
    });
    await expect(k.comms.handleMsg(k.incoming("comm_msg", { comm_id: comm.id, data: {} }))).rejects.toThrow("first handler");
    expect(got).toEqual(["second ran"]);
    const closed: unknown[] = [];
    comm.onClose((msg) => closed.push(msg?.data));
    k.comms.handleClose(k.incoming("comm_close", { comm_id: comm.id, data: { bye: true } }));
    expect(closed).toEqual([{ bye: true }]);
    expect(() => comm.send({})).toThrow(/is closed/);
    await k.comms.handleMsg(k.incoming("comm_msg", { comm_id: comm.id, data: {} }));
    expect(k.warnings.join("\n")).toContain("unknown comm");
  });
});

describe("widget", () => {
  test("opening: state with identity, buffers split, protocol version in metadata", () => {
    const k = fakeKernel();
    const w = new Widget(SLIDER, { value: 1, data: new Uint8Array([4, 5]) }, { runtime: k.runtime });
    const [open] = k.sent;
    expect(open).toEqual({
      type: "comm_open",
      content: { comm_id: w.modelId, target_name: "jupyter.widget", data: { state: { ...SLIDER, value: 1 }, buffer_paths: [["data"]] } },
      buffers: [[4, 5]],
    });
  });

  test("front-end update: echo first, then listeners; a listener's echo of the same value is not sent back", () => {
    const k = fakeKernel();
    const w = new Widget(SLIDER, { value: 1, max: 10 }, { runtime: k.runtime });
    const order: string[] = [];
    w.onChange((c) => {
      order.push(`change ${c.origin} ${JSON.stringify(c.changed)} after ${k.sent.length} sent`);
      if (c.origin === "frontend") w.set({ value: c.changed.value as number, max: 20 });
    });
    k.sent.length = 0;
    void k.comms.handleMsg(k.incoming("comm_msg", { comm_id: w.modelId, data: { method: "update", state: { value: 3 }, buffer_paths: [] } }));
    expect(k.sent.map((s) => s.content.data)).toEqual([
      { method: "echo_update", state: { value: 3 }, buffer_paths: [] },
      { method: "update", state: { max: 20 }, buffer_paths: [] },
    ]);
    expect(order).toEqual(['change frontend {"value":3} after 1 sent', 'change kernel {"max":20} after 2 sent']);
    expect(w.get("value")).toBe(3);
  });

  test("decoders turn received bytes into typed state", async () => {
    const k = fakeKernel();
    const w = new Widget(SLIDER, { mask: new Float32Array(0) }, {
      runtime: k.runtime,
      decode: { mask: (b) => new Float32Array((b as Uint8Array).slice().buffer) },
    });
    const values = new Float32Array([1.5, 2.5]);
    await k.comms.handleMsg(
      k.incoming("comm_msg", { comm_id: w.modelId, data: { method: "update", state: {}, buffer_paths: [["mask"]] } }, [new Uint8Array(values.buffer)]),
    );
    expect(w.get("mask")).toBeInstanceOf(Float32Array);
    expect([...w.get("mask")]).toEqual([1.5, 2.5]);
  });

  test("other widgets in the state travel as IPY_MODEL references; update_states lists every widget", async () => {
    const k = fakeKernel();
    const layout = new Widget({ ...SLIDER, _model_name: "LayoutModel", _view_name: "LayoutView" }, { width: "100px" }, { runtime: k.runtime });
    const slider = new Widget(SLIDER, { layout, pixels: new Uint8Array([1, 2]) }, { runtime: k.runtime });
    const open = k.sent.find((s) => s.type === "comm_open" && (s.content.comm_id as string) === slider.modelId)!;
    expect((open.content.data as { state: { layout: string } }).state.layout).toBe(`IPY_MODEL_${layout.modelId}`);

    await k.comms.handleOpen(k.incoming("comm_open", { comm_id: "ctl", target_name: "jupyter.widget.control", data: {} }));
    k.sent.length = 0;
    await k.comms.handleMsg(k.incoming("comm_msg", { comm_id: "ctl", data: { method: "request_states" } }));
    const [answer] = k.sent;
    const data = answer!.content.data as { method: string; states: Record<string, { state: Record<string, unknown> }>; buffer_paths: unknown };
    expect(data.method).toBe("update_states");
    expect(Object.keys(data.states).sort()).toEqual([layout.modelId, slider.modelId].sort());
    expect(data.states[slider.modelId]!.state.layout).toBe(`IPY_MODEL_${layout.modelId}`);
    expect(data.buffer_paths).toEqual([[slider.modelId, "state", "pixels"]]);
    expect(answer!.buffers).toEqual([[1, 2]]);

    slider.close();
    expect(k.widgets.all().map((w) => w.modelId)).toEqual([layout.modelId]);
  });

  test("unknown methods are errors that name the widget", async () => {
    const k = fakeKernel();
    const w = new Widget(SLIDER, {}, { runtime: k.runtime });
    await expect(k.comms.handleMsg(k.incoming("comm_msg", { comm_id: w.modelId, data: { method: "frobnicate" } }))).rejects.toThrow(
      `widget ${w.modelId} got a message with unknown method 'frobnicate'`,
    );
  });

  test("outside the kernel, library code gets an error that says how to fix it", () => {
    expect(() => kernelRuntime()).toThrow(/medicosam install.*MedicoSAM \(TypeScript\)/);
    expect(() => new Widget(SLIDER, {})).toThrow(/not running inside it/);
  });
});
