/**
 * Writes data/phantom-slice.png and data/phantom-slice-labels.png: a small synthetic
 * CT-like slice (body, two organs, noise) with its label map. Deterministic (seeded), so
 * the committed files can be regenerated bit for bit: `npx tsx data/generate-sample.ts`.
 * Synthetic data, not a patient image.
 */
import sharp from "sharp";
import { fileURLToPath } from "node:url";
import { SeededRandom } from "../kernel/analysis/rng.js";

export const SAMPLE_WIDTH = 384;
export const SAMPLE_HEIGHT = 320;

/** The organs, in pixels: label id, centre (x = column, y = row), radii, gray value. */
export const SAMPLE_ORGANS = [
  { label: 1, name: "round organ", cx: 140, cy: 150, rx: 34, ry: 34, value: 200 },
  { label: 2, name: "oval organ", cx: 262, cy: 176, rx: 46, ry: 26, value: 60 },
] as const;

export function makeSample(seed = 7): { image: Uint8Array; labels: Uint8Array } {
  const w = SAMPLE_WIDTH;
  const h = SAMPLE_HEIGHT;
  const rng = new SeededRandom(seed);
  const rnd = (): number => rng.next();
  const image = new Uint8Array(w * h);
  const labels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const body = ((x - w / 2) / (w * 0.44)) ** 2 + ((y - h / 2) / (h * 0.42)) ** 2 <= 1;
      let v = body ? 120 : 10;
      for (const o of SAMPLE_ORGANS) {
        if (((x - o.cx) / o.rx) ** 2 + ((y - o.cy) / o.ry) ** 2 <= 1) {
          v = o.value;
          labels[y * w + x] = o.label;
        }
      }
      const noise = (rnd() + rnd() + rnd() - 1.5) * 12;
      image[y * w + x] = Math.max(0, Math.min(255, Math.round(v + noise)));
    }
  }
  return { image, labels };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { image, labels } = makeSample();
  const dir = new URL(".", import.meta.url);
  const raw = { width: SAMPLE_WIDTH, height: SAMPLE_HEIGHT, channels: 1 as const };
  await sharp(image, { raw }).toColourspace("b-w").png().toFile(fileURLToPath(new URL("phantom-slice.png", dir)));
  await sharp(labels, { raw }).toColourspace("b-w").png().toFile(fileURLToPath(new URL("phantom-slice-labels.png", dir)));
  console.log("wrote data/phantom-slice.png and data/phantom-slice-labels.png");
}
