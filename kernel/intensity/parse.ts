/**
 * The command-line spelling of an IntensitySpec, and back. One string per setting so that it
 * fits a flag (`--intensity window:40,400`) and a cache key alike.
 */
import { WINDOW_PRESETS, windowPreset } from "./presets.js";
import type { IntensitySpec } from "./spec.js";

export const DEFAULT_PERCENTILES = { low: 1, high: 99 } as const;

function validForms(): string {
  return [
    `  none                 uint8 images as they are (others are refused)`,
    `  minmax               micro_sam >= 1.7 per-channel min/max (the default)`,
    `  minmax-legacy        micro_sam < 1.7: global min/max, uint8 unchanged`,
    `  percentile           percentiles ${DEFAULT_PERCENTILES.low},${DEFAULT_PERCENTILES.high}, clipped (MedicoSAM training)`,
    `  percentile:LOW,HIGH  e.g. percentile:0.5,99.5`,
    `  window:LEVEL,WIDTH   e.g. window:40,400`,
    `  a CT window preset:  ${Object.keys(WINDOW_PRESETS).join(", ")}`,
  ].join("\n");
}

function fail(text: string, why: string): never {
  throw new Error(`invalid intensity "${text}": ${why}. Valid forms:\n${validForms()}`);
}

function numbers(text: string, body: string): [number, number] {
  const parts = body.split(",").map((s) => s.trim());
  if (parts.length !== 2 || parts.some((p) => p === "")) fail(text, "expected two numbers separated by a comma");
  const [a, b] = parts.map(Number) as [number, number];
  if (!Number.isFinite(a) || !Number.isFinite(b)) fail(text, `"${body}" is not two finite numbers`);
  return [a, b];
}

/** Parses "none", "minmax", "minmax-legacy", "percentile[:LOW,HIGH]", "window:LEVEL,WIDTH" or a preset. */
export function parseIntensity(text: string): IntensitySpec {
  const t = text.trim().toLowerCase();
  if (t === "none" || t === "minmax" || t === "minmax-legacy") return { mode: t };
  if (t === "percentile") return { mode: "percentile", ...DEFAULT_PERCENTILES };
  if (t.startsWith("percentile:")) {
    const [low, high] = numbers(text, t.slice("percentile:".length));
    if (!(low >= 0 && high <= 100 && low < high)) fail(text, "percentiles need 0 <= LOW < HIGH <= 100");
    return { mode: "percentile", low, high };
  }
  if (t.startsWith("window:")) {
    const body = t.slice("window:".length);
    const preset = windowPreset(body);
    if (preset) return { mode: "window", level: preset.level, width: preset.width };
    const [level, width] = numbers(text, body);
    if (!(width > 0)) fail(text, "the window WIDTH must be > 0");
    return { mode: "window", level, width };
  }
  const preset = windowPreset(t);
  if (preset) return { mode: "window", level: preset.level, width: preset.width };
  fail(text, "unknown mode or preset");
}

/** The canonical text of a spec; `parseIntensity(formatIntensity(s))` equals s. */
export function formatIntensity(spec: IntensitySpec): string {
  switch (spec.mode) {
    case "percentile":
      return `percentile:${spec.low},${spec.high}`;
    case "window":
      return `window:${spec.level},${spec.width}`;
    default:
      return spec.mode;
  }
}
