/** Cohorts: a dataset of volumes embedded and evaluated by local worker processes or Slurm job arrays. */
export { readCohortManifest, parseCohortManifest, ManifestError, type CohortManifest, type CohortVolume } from "./manifest.js";
export { cohortEmbed, cohortEvaluate, type CohortRunOptions, type CohortEvaluateOptions, type CohortRunResult } from "./run.js";
export { cohortStatus, CohortStatus, type VolumeStatus, type VolumeState } from "./status.js";
export { gatherCohort, cohortTableCsv, type CohortResults, type CohortTableRow } from "./gather.js";
export { cohortReport, CohortReport } from "./report.js";
export { DEFAULT_PROTOCOL, type ProtocolSettings, type EmbedSettings } from "./settings.js";
export type { SlurmOptions } from "./slurm.js";
