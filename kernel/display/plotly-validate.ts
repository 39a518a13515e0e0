/**
 * Checks a figure against plotly.js's own schema with `Plotly.validate`, in Node, by running the
 * same bundle the notebook gets inside a `vm` context. plotly.js needs a few browser globals only
 * to load (a user agent, a document, DOMParser, HTMLElement); validation itself never touches the
 * DOM, so inert stand-ins suffice. Used by tests and available for figures users build by hand.
 */
import vm from "node:vm";
import { plotlyBundleSource } from "./plotly.js";
import { typedArraysAsArrays, type PlotlyFigure } from "./plotly-figure.js";

export interface PlotlyValidationError {
  readonly code: string;
  readonly container: string;
  readonly trace: number | null;
  readonly path: readonly (string | number)[];
  readonly msg: string;
}

interface PlotlyLike {
  validate(data: unknown, layout: unknown): PlotlyValidationError[] | undefined;
}

let plotly: PlotlyLike | undefined;

/** An object that answers any property read or call with another such object. */
function inert(): unknown {
  const handler: ProxyHandler<() => void> = {
    get(target, prop) {
      if (prop === Symbol.toPrimitive) return () => "";
      const t = target as unknown as Record<string | symbol, unknown>;
      if (!(prop in t)) t[prop] = inert();
      return t[prop];
    },
    apply: () => inert(),
    construct: () => inert() as object,
  };
  return new Proxy(function () {}, handler);
}

function loadPlotly(): PlotlyLike {
  if (plotly) return plotly;
  const { source } = plotlyBundleSource();
  const context: Record<string, unknown> = {
    console,
    navigator: { userAgent: "node" },
    document: inert(),
    DOMParser: inert(),
    HTMLElement: class HTMLElement {},
  };
  context.window = context;
  context.self = context;
  vm.createContext(context);
  vm.runInContext(source, context, { filename: "plotly-cartesian.min.js" });
  const p = context.Plotly as PlotlyLike | undefined;
  if (!p || typeof p.validate !== "function") throw new Error("plotly.js loaded without defining Plotly.validate.");
  plotly = p;
  return p;
}

/**
 * Schema errors of a figure (unknown keys, invalid values, wrong trace types), as plotly.js
 * reports them; an empty list means plotly.js accepts the figure as it is.
 * Typed arrays are passed as plain arrays, as they would be after JSON serialisation.
 */
export function validateFigure(fig: PlotlyFigure): PlotlyValidationError[] {
  const p = loadPlotly();
  const plainData = JSON.parse(JSON.stringify(fig.data, typedArraysAsArrays)) as unknown;
  const plainLayout = JSON.parse(JSON.stringify(fig.layout ?? {}, typedArraysAsArrays)) as unknown;
  return p.validate(plainData, plainLayout) ?? [];
}
