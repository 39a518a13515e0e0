/**
 * The settings a cohort run is made of. Embedding settings (view, intensity) decide which
 * embeddings a store holds; protocol settings decide what a results folder holds. Both are
 * written once into their folder and every later task must agree, so that a table never mixes
 * numbers from two settings.
 */
import type { VolumeIntensity } from "../cache/volume-embeddings.js";
import type { Prompt3dMode } from "../evaluation/evaluate3d.js";
import type { StartMode } from "../evaluation/protocol-prompts.js";
import { parseIntensity } from "../intensity/parse.js";
import { VIEWS, type ViewName } from "../io/volume-view.js";

export interface EmbedSettings {
  readonly view: ViewName;
  readonly intensity: VolumeIntensity;
}

/** The paper's protocols on each volume: 2D on its labelled slices, 3D from each object's central slice. */
export interface ProtocolSettings {
  /** 2D start prompts (default point and box); empty: no 2D protocol. */
  readonly starts: readonly StartMode[];
  /** 2D correction rounds after the start (default 7). */
  readonly corrections: number;
  /** 2D: feed the previous low-res logits back as mask prompt (default false). */
  readonly useMask: boolean;
  readonly seed: number;
  /** 2D: components under this many pixels are not prompted (default 20). */
  readonly minSize: number;
  /** 2D: every Nth of the slices that hold a label (default 1: all of them). */
  readonly sliceStep: number;
  /** 3D prompts (default box and points); empty: no 3D evaluation. */
  readonly prompts3d: readonly Prompt3dMode[];
}

export const DEFAULT_EMBED_SETTINGS: EmbedSettings = { view: "axial", intensity: { mode: "per-slice" } };

export const DEFAULT_PROTOCOL: ProtocolSettings = {
  starts: ["point", "box"],
  corrections: 7,
  useMask: false,
  seed: 0,
  minSize: 20,
  sliceStep: 1,
  prompts3d: ["box", "points"],
};

/** `per-slice` (default, the reference), `per-volume`, `window:L,W` or a CT preset name. */
export function parseVolumeIntensity(text: string): VolumeIntensity {
  const t = text.trim().toLowerCase();
  if (t === "per-slice" || t === "minmax") return { mode: "per-slice" };
  if (t === "per-volume") return { mode: "per-volume" };
  let spec;
  try {
    spec = parseIntensity(t);
  } catch {
    spec = undefined;
  }
  if (spec?.mode === "window") return { mode: "window", level: spec.level, width: spec.width };
  throw new Error(`intensity '${text}' for volumes: per-slice (default), per-volume, window:LEVEL,WIDTH or a CT window preset (ct-abdomen, ...).`);
}

export function formatVolumeIntensity(v: VolumeIntensity): string {
  return v.mode === "window" ? `window:${v.level},${v.width}` : v.mode;
}

export function checkEmbedSettings(s: EmbedSettings): EmbedSettings {
  if (!VIEWS.includes(s.view)) throw new Error(`view must be one of ${VIEWS.join(", ")}, not '${s.view}'.`);
  return s;
}

export function checkProtocol(p: ProtocolSettings): ProtocolSettings {
  const whole = (v: number, what: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be a whole number >= ${min}, not ${v}.`);
  };
  whole(p.corrections, "corrections", 0);
  whole(p.seed, "seed", 0);
  whole(p.minSize, "minSize", 1);
  whole(p.sliceStep, "sliceStep", 1);
  for (const s of p.starts) if (s !== "point" && s !== "box") throw new Error(`2D starts are point and/or box, not '${String(s)}'.`);
  for (const s of p.prompts3d) if (s !== "box" && s !== "points") throw new Error(`3D prompts are box and/or points, not '${String(s)}'.`);
  if (p.starts.length === 0 && p.prompts3d.length === 0) throw new Error("neither a 2D start nor a 3D prompt: nothing to evaluate.");
  return p;
}
