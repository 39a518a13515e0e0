/**
 * The public API that notebook cells and scripts import. Everything else is internal and may
 * move; what is exported here is what the README and the tutorials promise.
 */
import { maybeKernelRuntime } from "./jupyter/runtime.js";
import { loadModel as loadSamModel, type LoadOptions, type SamModel } from "./sam/model.js";
import type { ModelSource } from "./sam/model-files.js";
import { cohortEmbed as embedCohort, cohortEvaluate as evaluateCohort, type CohortEvaluateOptions, type CohortRunOptions, type CohortRunResult } from "./cohort/run.js";

/**
 * Loads a model folder (or two ONNX files). Inside the MedicoSAM kernel, Kernel > Interrupt
 * stops a running encoder: the SAM layer knows nothing of Jupyter, so the wiring lives here.
 */
export function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<SamModel> {
  return loadSamModel(source, { interruptSignal: () => maybeKernelRuntime()?.interruptSignal, ...options });
}

/** Kernel > Interrupt stops a cohort's local workers (they record where they stopped). */
function withInterrupt<T extends CohortRunOptions>(options: T): T {
  const signal = options.signal ?? maybeKernelRuntime()?.interruptSignal;
  return signal ? { ...options, signal } : options;
}

/** Embeds every slice of every volume of a cohort manifest into a store (kernel/cohort/run.ts). */
export function cohortEmbed(manifest: string, options: CohortRunOptions): Promise<CohortRunResult> {
  return embedCohort(manifest, withInterrupt(options));
}

/** The paper's 2D and 3D protocols on every volume of a cohort manifest (kernel/cohort/run.ts). */
export function cohortEvaluate(manifest: string, options: CohortEvaluateOptions): Promise<CohortRunResult> {
  return evaluateCohort(manifest, withInterrupt(options));
}
export type { Image2D, RgbImage8, Size2D, PixelArray } from "./io/image.js";
export { readImage, imageFromArray } from "./io/read-image.js";
export { writeMaskPng } from "./io/mask-png.js";
export type { IntensitySpec } from "./intensity/spec.js";
export { DEFAULT_INTENSITY } from "./intensity/spec.js";
export { toRgb8 } from "./intensity/normalize.js";
export { parseIntensity } from "./intensity/parse.js";
export type { Point, Box, Prompt, MaskPrompt } from "./sam/prompt.js";
export type { Embedding } from "./sam/embedding.js";
export type { MaskCandidate, SegmentResult } from "./sam/segment-result.js";
export type { ModelManifest } from "./sam/manifest.js";
export type { MultimaskMode } from "./sam/select.js";
export { SamModel, type LoadOptions, type EmbedOptions, type SegmentOptions } from "./sam/model.js";
export { DEVICES, DEVICE_ENV, type Device, type SessionDevice } from "./sam/device.js";
export { DeviceUnavailableError } from "./sam/device-diagnosis.js";
export { saveEmbedding, loadEmbedding } from "./sam/embedding-file.js";
// Automatic segmentation: segment_anything's SamAutomaticMaskGenerator.
export { generateMasks, AutomaticMaskGenerator, type MaskRecord } from "./automatic/generator.js";
export { SAM_DEFAULTS as AUTOMATIC_DEFAULTS, type AutomaticOptions } from "./automatic/options.js";
export { masksToLabelMap, type LabelMapResult } from "./automatic/label-map.js";
export { generateMasksForVolume, type VolumeAutomaticOptions, type SliceMasks } from "./automatic/volume.js";
export { maskToRle, rleToMask, type UncompressedRle } from "./automatic/rle.js";
export { buildPointGrid, type GridPoint } from "./automatic/grid.js";
export { writeLabelPng16 } from "./io/label-png.js";
export { drawOverlay } from "./display/overlay.js";
export { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
export { SegmentCanvas } from "../widgets/segment-canvas/kernel/canvas.js";
export { volumePropagator } from "../widgets/segment-canvas/kernel/propagation.js";
export type { SegmentCanvasOptions, CommitEvent, HistoryEntry, Propagator } from "../widgets/segment-canvas/kernel/types.js";
export type { LabelsInput } from "../widgets/segment-canvas/kernel/load-labels.js";
export { replaySession, readSession, SessionReplay, type ReplayOptions, type ReplayObject, type SessionInput } from "../widgets/segment-canvas/kernel/replay.js";
export type { CanvasSession, SessionEvent } from "../widgets/segment-canvas/kernel/session.js";
export type { CanvasAutomaticOptions, ProposalSummary } from "../widgets/segment-canvas/kernel/proposals.js";
export type { Volume } from "./io/volume.js";
export { openVolume } from "./io/volume-open.js";
export { readNifti } from "./io/nifti-read.js";
export { readDicom } from "./io/dicom-series.js";
export { writeLabelMap } from "./io/nifti-labels.js";
export { writeDicomSeg, SEGMENTATION_STORAGE } from "./io/dicom-seg.js";
export type { DicomSegOptions, DicomSegResult } from "./io/dicom-seg.js";
export { viewMapping, extractSlice, readSliceOf } from "./io/volume-view.js";
export { VolumeEmbeddings, formatProgress } from "./cache/volume-embeddings.js";
export { propagate, paintLabels } from "./interactive/propagate.js";
export { evaluate3d, evaluate3dGrid, stackLabels } from "./evaluation/evaluate3d.js";
export {
  display,
  clearOutput,
  DisplayHandle,
  Widget,
  kernelRuntime,
  maybeKernelRuntime,
  type MimeBundle,
  type Displayable,
} from "./jupyter/index.js";
// Analysis and its pictures (the tutorials 03 and 04 use these).
export { PlotlyChart, plotlyLibrary, setPlotlyDefaults, type PlotlyFigure, type PlotlyDisplayOptions } from "./display/plotly.js";
export { ImageGrid, type Panel, type ImageGridOptions } from "./display/figures-images.js";
export { overlayPng, drawOutline, labelColor } from "./display/overlay.js";
export { toDisplayScale, displaySize, type PixelSpacing } from "./display/display-scale.js";
export { protocolFigure, explainedVarianceFigure, similarityFigure, tokenScatterFigure } from "./display/figures.js";
export { pcaView, PcaView, type PcaViewOptions } from "./display/figures-pca.js";
export { protocolReport, ProtocolReport, tableBundle } from "./display/figures-protocol.js";
export { teachingView } from "./display/figures-teaching.js";
export { candidatesView } from "./display/figures-candidates.js";
export { fitPca, projectEmbedding, pcaOfEmbeddings } from "./analysis/pca.js";
export { cosineSimilarityAt, cosineSimilarityTo, similarityImage } from "./analysis/similarity.js";
export { dice, iou } from "./analysis/metrics.js";
export { extractObjects, type LabelMap } from "./analysis/objects.js";
export { runObject, type ObjectRun, type ProtocolOptions } from "./evaluation/protocol.js";
export { evaluateImage } from "./evaluation/protocol-image.js";
export { evaluateDataset, ProtocolResults, type EvaluationItem } from "./evaluation/protocol-run.js";
export { similarityView } from "./display/figures-pca.js";
export { pcaRgbImages, componentImages } from "./analysis/pca-image.js";
export { tokenLabels } from "./analysis/tokens.js";
export { resetPlotlyBundle } from "./display/plotly.js";
export { summarize, toCsv } from "./evaluation/protocol-table.js";
export { SeededRandom } from "./analysis/rng.js";
// Semantic segmentation: a head trained on frozen embeddings of a few labelled slices, and the encoder probe.
export {
  trainSemanticHead,
  SemanticHead,
  volumeSamples,
  sliceDice,
  saveSemanticHead,
  loadSemanticHead,
  probeReport,
  ProbeReport,
  type SemanticSample,
  type TrainHeadOptions,
  type TrainProgress,
  type TrainingReport,
  type SlicePrediction,
  type VolumePrediction,
  type HeadKind,
  type ProbeOptions,
} from "./semantic/index.js";
export { PHANTOM_LABEL_NAMES } from "./phantom/labels.js";
export { generatePhantomVolume, writePhantomNifti, type PhantomVolume } from "./phantom/index.js";
// Cohorts: a dataset embedded and evaluated by local workers or Slurm job arrays (cohortEmbed and cohortEvaluate above).
export {
  readCohortManifest,
  parseCohortManifest,
  ManifestError,
  cohortStatus,
  CohortStatus,
  gatherCohort,
  cohortTableCsv,
  cohortReport,
  CohortReport,
  DEFAULT_PROTOCOL,
  type CohortManifest,
  type CohortVolume,
  type CohortResults,
  type CohortTableRow,
  type ProtocolSettings,
  type EmbedSettings,
  type SlurmOptions,
  type VolumeStatus,
  type VolumeState,
} from "./cohort/index.js";
export type { CohortRunOptions, CohortEvaluateOptions, CohortRunResult } from "./cohort/run.js";
