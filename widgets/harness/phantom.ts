/**
 * The generated CT-like phantom the browser test segments: 512x512 int16 Hounsfield-like
 * values, air outside a body ellipse, three organs. The same formula runs in the kernel (as
 * cell code) and here (for expected pixel values), so neither side trusts the other.
 */

export interface Organ {
  readonly name: string;
  readonly center: readonly [number, number];
  readonly radii: readonly [number, number];
  readonly value: number;
}

export const PHANTOM = {
  width: 512,
  height: 512,
  organs: [
    { name: "liver", center: [180, 200], radii: [48, 44], value: 200 },
    { name: "kidney", center: [340, 220], radii: [40, 30], value: 100 },
    { name: "spleen", center: [262, 360], radii: [30, 30], value: -60 },
  ] as readonly Organ[],
  body: { center: [256, 256], radii: [230, 200], value: 40 },
  air: -1000,
  /** min and max of the values above: the default window. */
  range: [-1000, 200] as const,
};

/** The formula, as source text, so that the kernel computes exactly the same pixels. */
const FORMULA = `(x, y) => {
  const P = ${JSON.stringify({ organs: PHANTOM.organs, body: PHANTOM.body, air: PHANTOM.air })};
  const inside = (c, r) => ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 <= 1;
  for (const o of P.organs) if (inside(o.center, o.radii)) return o.value;
  return inside(P.body.center, P.body.radii) ? P.body.value : P.air;
}`;

export const valueAt = new Function(`return ${FORMULA}`)() as (x: number, y: number) => number;

/** Cell code: builds the phantom, loads the model, shows the canvas as `w`. */
export function phantomCell(modelDir: string, variable = "w"): string {
  return `
import { loadModel, segmentCanvas, imageFromArray } from "medicosam-notebook";
const valueAt = ${FORMULA};
const px = new Int16Array(${PHANTOM.width} * ${PHANTOM.height});
for (let y = 0; y < ${PHANTOM.height}; y++) for (let x = 0; x < ${PHANTOM.width}; x++) px[y * ${PHANTOM.width} + x] = valueAt(x, y);
const model = await loadModel(${JSON.stringify(modelDir)});
const ${variable} = segmentCanvas(model, imageFromArray(px, [${PHANTOM.height}, ${PHANTOM.width}]), { title: "phantom" });
${variable}
`;
}
