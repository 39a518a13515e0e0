/** Synthetic CT-like and MR-like phantoms with label maps (for demos, tutorials, tests and the demo model's training). */
export { generatePhantomSlice, generatePhantomVolume, phantomSettings } from "./phantom.js";
export type { Modality, PhantomOptions, PhantomSettings, PhantomSlice, PhantomVolume } from "./phantom.js";
export { PHANTOM_LABELS, PHANTOM_LABEL_NAMES } from "./labels.js";
export type { PhantomLabelName } from "./labels.js";
export { writePhantomNifti } from "./write.js";
export type { ContrastName } from "./tissues.js";
