/**
 * The segmentation canvas inside JupyterLab: the pixel mapping, clicks and drags of
 * widgets/harness/driver.ts's CanvasPage, pointed at a canvas that Lab's widget manager rendered in
 * a notebook cell instead of the html-manager test page. A "scope" is a CSS selector of the
 * element holding the canvas (LabPage.tagCell marks the cell).
 */
import type { Page } from "playwright-core";
import { CanvasPage } from "../../../widgets/harness/driver.js";
import type { JupyterServer } from "../../../widgets/harness/jupyter-server.js";
import type { Locator } from "playwright-core";

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const window: any;

export class LabCanvas extends CanvasPage {
  constructor(page: Page) {
    // CanvasPage keeps the server only for its html-manager page helpers, unused here.
    super(page, null as unknown as JupyterServer);
  }

  override root(scope: string, n = 0): Locator {
    return this.page.locator(`${scope} [data-testid="segment-canvas"]`).nth(n);
  }

  override async idle(scope: string, timeout = 60_000): Promise<void> {
    await this.page.waitForFunction(
      (s) => {
        const r = document.querySelector(`${s} [data-testid="segment-canvas"]`);
        return r?.dataset.busy === "false" && r.dataset.status === "ready";
      },
      scope,
      { timeout, polling: 50 },
    );
    await this.nextFrame();
  }

  override async waitForCanvas(scope: string, attr: string, op: "==" | ">", value: string | number, timeout = 10_000): Promise<void> {
    await this.page.waitForFunction(
      ([s, a, o, v]) => {
        const got = document.querySelector(`${s} [data-testid="canvas"]`)?.getAttribute(a);
        if (got === null || got === undefined) return false;
        return o === ">" ? Number(got) > Number(v) : got === String(v);
      },
      [scope, attr, op, value] as const,
      { timeout },
    );
  }

  /** Gives the canvas the keyboard focus without clicking it (a click would add a point). */
  async focus(scope: string): Promise<void> {
    await this.root(scope).focus();
  }

  async sliceShown(scope: string): Promise<number> {
    return Number(await this.canvas(scope).getAttribute("data-slice"));
  }

  /** Starts recording the widget's own click-to-mask latencies ("msam-latency" events). */
  async recordLatencies(): Promise<void> {
    await this.page.evaluate(() => {
      if (window.__e2eLatencies) return;
      window.__e2eLatencies = [];
      document.addEventListener("msam-latency", (e: any) => window.__e2eLatencies.push(e.detail));
    });
  }

  async recordedLatencies(): Promise<{ seq: number; action: string; ms: number }[]> {
    return this.page.evaluate(() => (window.__e2eLatencies ?? []).slice());
  }
}
