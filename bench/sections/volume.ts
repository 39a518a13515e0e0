/**
 * The volume figures, from bench/volume.ts (owned by the volumes code) when it exists. That
 * function returns a plain record; numbers become table rows, a `{median, p95}` object becomes a
 * timing row, anything else goes to the JSON details only.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Summary } from "../stats.js";
import type { Metric, SectionConfig, SectionResult } from "../types.js";

/** bench/volume.js next to the compiled runner, or volume.ts when run from source with tsx. */
function volumeModuleUrl(): URL | undefined {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const url = new URL(`../volume${ext}`, import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/** Units from the key's suffix (decodeMs, peakRssMB, ...); none when it does not say. */
function unitOf(key: string): string {
  if (/ms$/i.test(key)) return "ms";
  if (/mb$/i.test(key)) return "MB";
  if (/(seconds|Sec|S)$/.test(key)) return "s";
  if (/(percent|Pct)$/.test(key)) return "%";
  return "";
}

function isSummaryLike(v: unknown): v is Pick<Summary, "median"> & Partial<Summary> {
  return typeof v === "object" && v !== null && typeof (v as { median?: unknown }).median === "number";
}

export async function run(_config: SectionConfig): Promise<SectionResult> {
  const url = volumeModuleUrl();
  if (!url) {
    return { section: "volume", metrics: [{ name: "skipped: bench/volume.ts does not exist yet", unit: "" }] };
  }
  const mod = (await import(url.href)) as { benchVolume?: () => Promise<Record<string, unknown>> };
  if (typeof mod.benchVolume !== "function") {
    throw new Error(`${fileURLToPath(url)} does not export benchVolume(); it should export async function benchVolume(): Promise<Record<string, unknown>>`);
  }
  const figures = await mod.benchVolume();
  const metrics: Metric[] = [];
  for (const [key, value] of Object.entries(figures)) {
    if (typeof value === "number") metrics.push({ name: key, unit: unitOf(key), value });
    else if (isSummaryLike(value)) {
      const s: Summary = {
        n: value.n ?? NaN,
        median: value.median,
        p95: value.p95 ?? NaN,
        min: value.min ?? NaN,
        max: value.max ?? NaN,
      };
      metrics.push({ name: key, unit: unitOf(key), summary: s });
    }
  }
  return { section: "volume", metrics, details: figures };
}
