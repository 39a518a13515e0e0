/**
 * Common CT display windows (level/centre and width in Hounsfield units), as radiology viewers
 * and teaching references list them. A window maps [level - width/2, level + width/2] to
 * 0..255 and clips. These are conveniences for display-like input; the reference pipeline
 * (micro_sam) does no windowing, so none of them is a default.
 */
export interface WindowPreset {
  readonly level: number;
  readonly width: number;
  readonly description: string;
}

export const WINDOW_PRESETS: Readonly<Record<string, WindowPreset>> = {
  brain: { level: 40, width: 80, description: "head CT, brain parenchyma" },
  subdural: { level: 75, width: 215, description: "head CT, subdural/extra-axial blood" },
  stroke: { level: 40, width: 40, description: "head CT, early ischaemia (narrow)" },
  "temporal-bone": { level: 600, width: 2800, description: "temporal bone / inner ear" },
  lung: { level: -600, width: 1500, description: "chest CT, lung parenchyma" },
  mediastinum: { level: 50, width: 350, description: "chest CT, mediastinum" },
  abdomen: { level: 40, width: 400, description: "abdominal soft tissue" },
  "soft-tissue": { level: 40, width: 400, description: "soft tissue (same as abdomen)" },
  liver: { level: 60, width: 160, description: "liver (narrow soft tissue)" },
  bone: { level: 400, width: 1800, description: "bone" },
  spine: { level: 50, width: 250, description: "spine soft tissue" },
};

export function windowPreset(name: string): WindowPreset | undefined {
  return Object.prototype.hasOwnProperty.call(WINDOW_PRESETS, name) ? WINDOW_PRESETS[name] : undefined;
}
