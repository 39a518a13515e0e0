import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { SummaryRow } from "../kernel/evaluation/protocol-table.js";
import { fitPca, projectEmbedding } from "../kernel/analysis/pca.js";
import { cosineSimilarityAt } from "../kernel/analysis/similarity.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { explainedVarianceFigure, labelHex, protocolFigure, similarityFigure, tokenScatterFigure } from "../kernel/display/figures.js";
import { DISPLAY, PlotlyChart, plotlyMimeBundle, resetPlotlyBundle, setPlotlyDefaults, type PlotlyFigure } from "../kernel/display/plotly.js";
import { renderFigureSvg } from "../kernel/display/plotly-svg.js";
import { validateFigure } from "../kernel/display/plotly-validate.js";
import { svgToPng } from "../kernel/display/png.js";

function summary(): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const [m, model] of ["SAM", "MedicoSAM", "MedSAM"].entries())
    for (const start of ["point", "box"])
      for (let round = 0; round < 8; round++) rows.push({ model, start, round, dice: 0.4 + 0.05 * m + 0.04 * round, iou: 0.3, datasets: 2 });
  return rows;
}

function smallEmbedding(): Embedding {
  const data = new Float32Array(256 * 4096);
  for (let ch = 0; ch < 256; ch++) for (let t = 0; t < 4096; t++) data[ch * 4096 + t] = Math.sin((ch + 1) * (t + 1) * 0.001) + (t % 64 < 32 ? ch % 3 : 0);
  return { data, originalSize: { height: 128, width: 128 }, resizedSize: { height: 1024, width: 1024 }, modelName: "m", key: "k" };
}

describe("figure builders", () => {
  it("build figures plotly.js accepts", async () => {
    const e = smallEmbedding();
    const basis = await fitPca(e);
    const projection = projectEmbedding(basis, e);
    const labels = Int32Array.from({ length: 4096 }, (_, t) => (t % 64 < 32 ? 1 : 0));
    const figures: PlotlyFigure[] = [
      protocolFigure(summary()),
      protocolFigure(summary(), { metric: "iou" }),
      explainedVarianceFigure([{ name: "a", basis }, { name: "b", basis }]),
      tokenScatterFigure(projection, labels, { labelNames: ["background", "liver"] }),
      similarityFigure(cosineSimilarityAt(e, 10, 10)),
    ];
    for (const f of figures) expect(validateFigure(f)).toEqual([]);
  });

  it("has a validator that rejects what plotly.js rejects", async () => {
    const errors = validateFigure({ data: [{ type: "scatter", x: [1], y: [2], colour: "red" }], layout: { xaxis: { rnage: [0, 1] } } });
    expect(errors.map((e) => e.path.join("."))).toEqual(["colour", "xaxis.rnage"]);
    expect(validateFigure({ data: [{ type: "scatter", mode: "dots", x: [1], y: [2] }] })[0]?.code).toBe("value");
  });

  it("lays out the protocol figure like the paper: a panel per start, a colour per model", async () => {
    const f = protocolFigure(summary());
    expect(f.data).toHaveLength(6);
    const byModel = new Map<string, string[]>();
    for (const t of f.data) {
      const color = (t.line as { color: string }).color;
      byModel.set(t.name as string, [...(byModel.get(t.name as string) ?? []), color]);
    }
    for (const colors of byModel.values()) expect(new Set(colors).size).toBe(1);
    expect(new Set([...byModel.values()].map((c) => c[0])).size).toBe(3);
    expect(f.data.filter((t) => t.showlegend).map((t) => t.name)).toEqual(["SAM", "MedicoSAM", "MedSAM"]);
    expect(f.data.map((t) => t.xaxis)).toEqual(["x", "x", "x", "x2", "x2", "x2"]);
    const first = f.data[0]!;
    expect(first.x).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect((first.y as number[])[7]).toBeCloseTo(0.68, 10);
    expect(() => protocolFigure([])).toThrow(/no summary rows/);
  });

  it("colours scatter tokens by their label with the overlay colours", async () => {
    const e = smallEmbedding();
    const p = projectEmbedding(await fitPca(e), e);
    const labels = Int32Array.from({ length: 4096 }, (_, t) => (t < 100 ? 3 : 0));
    const f = tokenScatterFigure(p, labels);
    expect(f.data.map((t) => t.name)).toEqual(["background", "label 3"]);
    expect((f.data[1]!.x as number[]).length).toBe(100);
    expect((f.data[1]!.marker as { color: string }).color).toBe(labelHex(3));
    expect(() => tokenScatterFigure(p, new Int32Array(5))).toThrow(/5 token labels/);
  });
});

describe("static SVG picture", () => {
  it("puts data where the axes say", async () => {
    // Plot area: x 100..500, y 50..250 (margins given); ranges [0, 10] x [0, 1].
    const fig: PlotlyFigure = {
      data: [
        { type: "scatter", mode: "markers", x: [2.5], y: [0.75], marker: { color: "#ff0000", size: 12 } },
        { type: "scatter", mode: "lines", x: [0, 10], y: [0.25, 0.25], line: { color: "#0000ff", width: 4 } },
      ],
      layout: { width: 600, height: 300, margin: { l: 100, r: 100, t: 50, b: 50 }, xaxis: { range: [0, 10] }, yaxis: { range: [0, 1] }, showlegend: false },
    };
    const png = await svgToPng(renderFigureSvg(fig));
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    expect(info.width).toBe(600);
    expect(at(200, 100)).toEqual([255, 0, 0]); // x = 100 + 2.5/10*400, y = 250 - 0.75*200
    expect(at(300, 200)).toEqual([0, 0, 255]); // the line at y = 0.25
    expect(at(300, 100)).not.toEqual([255, 0, 0]);
  });

  it("draws heat maps with row 0 at the top of a reversed axis, and names what it cannot draw", async () => {
    const fig: PlotlyFigure = {
      data: [
        { type: "heatmap", z: [[0, 0], [1, 1]], zmin: 0, zmax: 1, colorscale: "Viridis", showscale: false },
        { type: "pie", values: [1, 2] },
      ],
      layout: { width: 400, height: 400, margin: { l: 0, r: 0, t: 0, b: 0 }, yaxis: { autorange: "reversed" } },
    };
    const svg = renderFigureSvg(fig);
    expect(svg).toContain("static picture omits 1 pie trace(s)");
    return svgToPng(svg).then(async (png) => {
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
      expect(at(200, 100)).toEqual([68, 1, 84]); // z row 0 (0 -> viridis start) on top
      expect(at(200, 300)).toEqual([253, 231, 37]);
    });
  });
});

describe("chart mime bundles", () => {
  it("inline plotly.js once, then rely on it; static picture and opt-in plotly JSON", async () => {
    resetPlotlyBundle();
    const fig = protocolFigure(summary());
    const first = await plotlyMimeBundle(fig);
    const second = await plotlyMimeBundle(fig);
    expect(Object.keys(first).sort()).toEqual(["image/png", "text/html", "text/plain"]);
    expect(first["text/html"] as string).toContain("window.Plotly");
    expect((first["text/html"] as string).length).toBeGreaterThan(1_000_000);
    expect((second["text/html"] as string).length).toBeLessThan(100_000);
    expect(second["text/html"] as string).not.toContain("(function (module, exports, define)");
    expect(second["text/html"] as string).toContain("medicosam-plotly-ready");
    expect(Buffer.from(second["image/png"] as string, "base64").subarray(1, 4).toString()).toBe("PNG");
    const always = await plotlyMimeBundle(fig, { bundle: "always", staticImage: "svg", plotlyJson: true });
    expect(always["text/html"] as string).toContain("(function (module, exports, define)");
    expect(always["image/svg+xml"] as string).toMatch(/^<svg/);
    expect(always["image/png"]).toBeUndefined();
    expect((always["application/vnd.plotly.v1+json"] as { data: unknown[] }).data).toHaveLength(6);
    const never = await plotlyMimeBundle(fig, { bundle: "never", staticImage: "none" });
    expect(Object.keys(never).sort()).toEqual(["text/html", "text/plain"]);
    resetPlotlyBundle();
    expect((await new PlotlyChart(fig)[DISPLAY]())["text/html"] as string).toContain("(function (module, exports, define)");
    await expect(plotlyMimeBundle(fig, { bundle: "sometimes" as never })).rejects.toThrow(/'once', 'always' or 'never'/);
    setPlotlyDefaults({ plotlyJson: true, staticImage: "none" });
    try {
      const withDefaults = await plotlyMimeBundle(fig);
      expect(Object.keys(withDefaults).sort()).toEqual(["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
      expect(Object.keys(await plotlyMimeBundle(fig, { plotlyJson: false }))).not.toContain("application/vnd.plotly.v1+json");
    } finally {
      setPlotlyDefaults({});
    }
  });

  it("serialises typed arrays as arrays in the chart's script", async () => {
    const fig: PlotlyFigure = { data: [{ type: "scatter", x: Float32Array.of(1, 2), y: Float64Array.of(3, 4) }] };
    const html = (await plotlyMimeBundle(fig, { bundle: "never", staticImage: "none" }))["text/html"] as string;
    expect(html).toContain('"x":[1,2],"y":[3,4]');
    expect(html).not.toContain("</script><");
  });
});
