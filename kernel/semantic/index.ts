/**
 * Semantic segmentation from a frozen encoder: label a few slices, train a small head on their
 * embeddings, predict every slice, correct and retrain; and the probe that compares encoders.
 */
export { trainSemanticHead, SemanticHead, labelsIn } from "./head.js";
export type { TrainHeadOptions, SlicePrediction, VolumePrediction, PredictVolumeOptions, HeadModelInfo } from "./head.js";
export type { SemanticSample, TrainProgress, TrainingReport, ClassBalance, FitOptions, StopReason } from "./train.js";
export type { HeadKind } from "./heads.js";
export { volumeSamples, sliceDice, type LabelVoxels } from "./dataset.js";
export { saveSemanticHead, loadSemanticHead, HEAD_FORMAT, HEAD_FORMAT_VERSION } from "./head-file.js";
export { probeReport, ProbeReport, type ProbeOptions, type ProbeRow } from "./probe.js";
