/**
 * The browser test page: a live widget front end without JupyterLab.
 *
 * - @jupyterlab/services talks to a real `jupyter server` (kernels over the websocket);
 * - @jupyter-widgets/html-manager, wired to the kernel's comms, creates models and views;
 * - our classes come from the BUILT labextension (dist/labextension), loaded the way JupyterLab
 *   loads a federated extension: its remoteEntry script, a share scope that provides
 *   @jupyter-widgets/base, `container.get("./extension")`, and the plugin's activate() with a
 *   widget registry. So the test exercises the package `medicosam install` ships.
 *
 * The driver (widgets/harness/driver.ts) calls `window.harness.*` through playwright.
 */
import * as base from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager";
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
import basePackage from "@jupyter-widgets/base/package.json";

interface RegistryData {
  name: string;
  version: string;
  exports: Record<string, unknown> | (() => Promise<Record<string, unknown>>);
}

interface Container {
  init(scope: unknown): Promise<void> | void;
  get(module: string): Promise<() => { default: { id: string; activate(app: unknown, registry: unknown): void } }>;
}

declare global {
  interface Window {
    _JUPYTERLAB?: Record<string, Container>;
    harness: Harness;
  }
}

const params = new URLSearchParams(location.search);
const token = params.get("token") ?? "";
const extensionEntry = params.get("extension") ?? "";
const extensionName = params.get("extensionName") ?? "medicosam-widgets";

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

/** What JupyterLab does for a federated extension, reduced to the widget registry. */
async function loadExtension(): Promise<RegistryData> {
  await loadScript(extensionEntry);
  const container = window._JUPYTERLAB?.[extensionName];
  if (!container) throw new Error(`${extensionEntry} did not define _JUPYTERLAB["${extensionName}"]`);
  const scope = {
    "@jupyter-widgets/base": {
      [basePackage.version]: { get: () => Promise.resolve(() => base), loaded: 1, from: "page", eager: true },
    },
  };
  await container.init(scope);
  const factory = await container.get("./extension");
  const plugin = factory().default;
  let registered: RegistryData | undefined;
  plugin.activate(null, { registerWidget: (data: RegistryData) => (registered = data) });
  if (!registered) throw new Error(`plugin ${plugin.id} did not register any widget module`);
  return registered;
}

class LiveManager extends HTMLManager {
  constructor(
    readonly kernel: Kernel.IKernelConnection,
    loader: (name: string, version: string) => Promise<unknown>,
  ) {
    super({ loader });
    kernel.registerCommTarget(this.comm_target_name, async (comm, msg) => {
      const shim = new base.shims.services.Comm(comm);
      await this.handle_comm_open(shim, msg as unknown as Parameters<HTMLManager["handle_comm_open"]>[1]);
    });
  }

  override async _create_comm(target: string, id?: string, data?: unknown, metadata?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): Promise<base.shims.services.Comm> {
    const comm = this.kernel.createComm(target, id);
    if (data || metadata) comm.open(data as never, metadata as never, buffers);
    return new base.shims.services.Comm(comm);
  }

  override async _get_comm_info(): Promise<Record<string, unknown>> {
    const reply = await this.kernel.requestCommInfo({ target_name: this.comm_target_name });
    return reply.content.status === "ok" ? (reply.content.comms as Record<string, unknown>) : {};
  }

  /** Restores every widget of the kernel after a page load (jupyter.widget.control). */
  restore(): Promise<void> {
    return (this as unknown as { _loadFromKernel(): Promise<void> })._loadFromKernel();
  }
}

interface ExecResult {
  status: string;
  stdout: string;
  stderr: string;
  error: string;
  /** Widget model ids displayed by the cell (views are rendered into #outputs). */
  widgets: string[];
}

class Harness {
  kernel: Kernel.IKernelConnection | undefined;
  manager: LiveManager | undefined;
  readonly latencies: { seq: number; action: string; ms: number }[] = [];
  readonly pageErrors: string[] = [];
  /** Keys that reached the document (what Jupyter's shortcut handling would see). */
  readonly documentKeys: string[] = [];
  private classes: RegistryData | undefined;

  constructor() {
    document.addEventListener("msam-latency", (e) => this.latencies.push((e as CustomEvent).detail));
    document.addEventListener("keydown", (e) => this.documentKeys.push(e.key));
    window.addEventListener("error", (e) => this.pageErrors.push(String(e.message)));
    window.addEventListener("unhandledrejection", (e) => this.pageErrors.push(String(e.reason)));
  }

  /** Starts a kernel (or connects to `kernelId`), loads the extension, restores existing widgets. */
  async connect(kernelName: string, kernelId?: string): Promise<string> {
    this.classes = await loadExtension();
    const serverSettings = ServerConnection.makeSettings({ baseUrl: `${location.origin}/`, wsUrl: `ws://${location.host}/`, token });
    const kernels = new KernelManager({ serverSettings });
    await kernels.ready;
    this.kernel = kernelId ? kernels.connectTo({ model: { id: kernelId, name: kernelName } }) : await kernels.startNew({ name: kernelName });
    const classes = this.classes;
    this.manager = new LiveManager(this.kernel, async (name, version) => {
      if (name !== classes.name) throw new Error(`this page only knows ${classes.name}, not ${name}@${version}`);
      return typeof classes.exports === "function" ? await classes.exports() : classes.exports;
    });
    await this.waitIdle();
    if (kernelId) await this.manager.restore();
    return this.kernel.id;
  }

  private async waitIdle(): Promise<void> {
    const k = this.kernel!;
    const t0 = Date.now();
    while (k.connectionStatus !== "connected" || (k.status !== "idle" && k.status !== "busy")) {
      if (Date.now() - t0 > 60_000) throw new Error(`kernel not ready: ${k.connectionStatus}/${k.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs a cell; widget displays are rendered into the page. */
  async execute(code: string): Promise<ExecResult> {
    const out: ExecResult = { status: "", stdout: "", stderr: "", error: "", widgets: [] };
    const future = this.kernel!.requestExecute({ code, stop_on_error: true });
    const views: Promise<void>[] = [];
    future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
      const type = msg.header.msg_type;
      const c = msg.content as Record<string, unknown>;
      if (type === "stream") out[(c.name as "stdout" | "stderr") === "stderr" ? "stderr" : "stdout"] += String(c.text);
      else if (type === "error") out.error += `${String(c.ename)}: ${String(c.evalue)}\n${((c.traceback as string[]) ?? []).join("\n")}`;
      else if (type === "display_data" || type === "execute_result") {
        const data = c.data as Record<string, unknown>;
        const view = data["application/vnd.jupyter.widget-view+json"] as { model_id: string } | undefined;
        if (view) {
          out.widgets.push(view.model_id);
          views.push(this.show(view.model_id));
        }
      }
    };
    const reply = await future.done;
    out.status = String(reply.content.status);
    await Promise.all(views);
    return out;
  }

  /** Renders a view of a model into a new output box. */
  async show(modelId: string): Promise<void> {
    const model = await this.manager!.get_model(modelId);
    const view = await this.manager!.create_view(model, {});
    const box = document.createElement("div");
    box.className = "output";
    box.dataset.modelId = modelId;
    document.getElementById("outputs")!.appendChild(box);
    await this.manager!.display_view(view, box);
  }

  /** Sends a raw custom message from the front end, as a buggy or hostile view could. */
  async sendRaw(modelId: string, content: unknown): Promise<void> {
    const model = await this.manager!.get_model(modelId);
    model.send(content as never, {});
  }

  modelIds(): string[] {
    return [...document.querySelectorAll<HTMLElement>("#outputs .output")].map((e) => e.dataset.modelId!);
  }
}

window.harness = new Harness();
document.body.dataset.ready = "true";
