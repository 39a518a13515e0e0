/**
 * The way JupyterLab talks to the kernel: @jupyterlab/services from Node, through Debian's
 * `jupyter server` and its websocket, opens comms with binary buffers and drives a widget as a
 * widget manager would.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { canRun } from "../helpers/require.js";
import { jupyterEnv, pythonHas, type JupyterEnv } from "../../widgets/harness/jupyter-env.js";
import { startJupyterServer, type RunningServer } from "../../widgets/harness/jupyter-process.js";
import { REPO } from "./helpers/kernel-process.js";

const require = createRequire(import.meta.url);
const PKG = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { name: string }).name;
const API = `${PKG}/dist/kernel/jupyter/index.js`;
const available = pythonHas("jupyter_server");

function bytes(buffer: ArrayBuffer | ArrayBufferView): number[] {
  return [...(ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer))];
}

/** The next message a comm receives, or a timeout. */
function nextMessage(comm: Kernel.IComm, timeoutMs = 15_000): Promise<KernelMessage.ICommMsgMsg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on comm ${comm.commId} within ${timeoutMs} ms`)), timeoutMs);
    comm.onMsg = (msg) => {
      clearTimeout(timer);
      resolve(msg);
    };
  });
}

async function run(kernel: Kernel.IKernelConnection, code: string): Promise<KernelMessage.IExecuteReplyMsg> {
  const future = kernel.requestExecute({ code });
  const reply = await future.done;
  return reply as KernelMessage.IExecuteReplyMsg;
}

describe.skipIf(!canRun(available, "Debian's python3-jupyter-server is not installed (apt-get install python3-jupyter-server)"))(
  "@jupyterlab/services through jupyter server",
  () => {
    let jupyter: JupyterEnv;
    let server: RunningServer;
    let manager: KernelManager;
    let kernel: Kernel.IKernelConnection;

    beforeAll(async () => {
      jupyter = jupyterEnv();
      server = await startJupyterServer(jupyter);
      const serverSettings = ServerConnection.makeSettings({
        baseUrl: `${server.url}/`,
        wsUrl: server.url.replace(/^http/, "ws") + "/",
        token: server.token,
        WebSocket: require("ws"),
        fetch: globalThis.fetch.bind(globalThis),
      });
      manager = new KernelManager({ serverSettings });
      await manager.ready;
      kernel = await manager.startNew({ name: "medicosam" });
      await kernel.info;
    }, 120_000);

    afterAll(async () => {
      try {
        await kernel?.shutdown();
      } catch {
        // the server stops anyway
      }
      manager?.dispose();
      await server?.stop();
      jupyter?.cleanup();
    });

    test("the kernel reports itself and runs a cell", async () => {
      const info = await kernel.info;
      expect(info.implementation).toBe("medicosam");
      expect(info.language_info.name).toBe("typescript");
      const reply = await run(kernel, "1 + 1");
      expect(reply.content.status).toBe("ok");
    });

    test("a comm with binary buffers both ways, and comm_info", async () => {
      const setup = await run(
        kernel,
        `import { kernelRuntime } from "${API}";
kernelRuntime().comms.registerTarget("test.echo", (comm, open) => {
  comm.send({ opened: open.data, openBuffers: open.buffers.map((b) => Array.from(b)) });
  comm.onMsg((msg) => comm.send({ echo: msg.data }, { buffers: msg.buffers.map((b) => b.slice().reverse()) }));
});`,
      );
      expect(setup.content.status).toBe("ok");

      const comm = kernel.createComm("test.echo");
      const opened = nextMessage(comm);
      comm.open({ hello: "from services" }, {}, [new Uint8Array([7, 8, 9])]);
      expect((await opened).content.data).toEqual({ opened: { hello: "from services" }, openBuffers: [[7, 8, 9]] });

      const answered = nextMessage(comm);
      const floats = new Float32Array([0.5, -1]);
      comm.send({ n: 1 }, {}, [floats, new Uint8Array([1, 2, 3, 4, 5])]);
      const answer = await answered;
      expect(answer.content.data).toEqual({ echo: { n: 1 } });
      expect(answer.buffers).toHaveLength(2);
      expect(bytes(answer.buffers![0]!)).toEqual(bytes(floats).reverse());
      expect(bytes(answer.buffers![1]!)).toEqual([5, 4, 3, 2, 1]);

      const info = await kernel.requestCommInfo({ target_name: "test.echo" });
      expect(info.content).toMatchObject({ status: "ok", comms: { [comm.commId]: { target_name: "test.echo" } } });
      comm.close();
    });

    test("a widget created in a cell syncs both ways, as with a widget manager", async () => {
      const opened = new Promise<{ comm: Kernel.IComm; msg: KernelMessage.ICommOpenMsg }>((resolve) => {
        kernel.registerCommTarget("jupyter.widget", (comm, msg) => resolve({ comm, msg }));
      });
      const created = await run(
        kernel,
        `import { Widget } from "${API}";
const w = new Widget<{ value: number; image: Uint8Array }>(
  { _model_module: "@jupyter-widgets/controls", _model_module_version: "2.0.0", _model_name: "IntSliderModel",
    _view_module: "@jupyter-widgets/controls", _view_module_version: "2.0.0", _view_name: "IntSliderView" },
  { value: 1, image: new Uint8Array([10, 20, 30]) },
);
(globalThis as any).lastValue = () => w.get("value");
w`,
      );
      expect(created.content.status).toBe("ok");
      const { comm, msg } = await opened;
      const data = msg.content.data as { state: Record<string, unknown>; buffer_paths: unknown };
      expect(msg.metadata).toEqual({ version: "2.1.0" });
      expect(data.state).toMatchObject({ _model_name: "IntSliderModel", value: 1 });
      expect(data.buffer_paths).toEqual([["image"]]);
      expect(bytes(msg.buffers![0]!)).toEqual([10, 20, 30]);

      const echoed = nextMessage(comm);
      const future = comm.send({ method: "update", state: { value: 9 }, buffer_paths: [] });
      const echo = await echoed;
      expect(echo.content.data).toEqual({ method: "echo_update", state: { value: 9 }, buffer_paths: [] });
      expect(echo.parent_header).toMatchObject({ msg_id: future.msg.header.msg_id });
      // The front end waits for idle on its comm message before sending the next one.
      await future.done;

      const check = kernel.requestExecute({ code: "(globalThis as any).lastValue()" });
      let result: unknown;
      check.onIOPub = (m) => {
        if (m.header.msg_type === "execute_result") result = (m.content as KernelMessage.IExecuteResultMsg["content"]).data["text/plain"];
      };
      await check.done;
      expect(result).toBe("9");
    });
  },
);
