/**
 * What a benchmark section hands back to the runner: a list of measurements (one table row
 * each) plus free-form details for the JSON file.
 */
import type { Summary } from "./stats.js";
import type { Device } from "../kernel/sam/device.js";

/** A target a measurement is judged against ("under 25 ms"); `max` in the metric's unit. */
export interface Target {
  readonly max: number;
  readonly text: string;
}

export interface Metric {
  readonly name: string;
  /** "ms", "s", "MB", "%", "" ... */
  readonly unit: string;
  /** Repeated timings: median and p95 are printed. */
  readonly summary?: Summary;
  /** A single figure (a peak, a ratio, a count). */
  readonly value?: number;
  readonly target?: Target;
  readonly note?: string;
}

export interface SectionResult {
  readonly section: string;
  readonly metrics: Metric[];
  readonly details?: Record<string, unknown>;
}

/** Settings passed from the runner to a section (through the child process's argv). */
export interface SectionConfig {
  /** Timed runs of the slow step of the section (encoder runs, clicks, ...); warm-up excluded. */
  readonly runs?: number;
  readonly quick?: boolean;
  /** onnxruntime session options for the engine's encoder/decoder (the options matrix). */
  readonly encoderSessionOptions?: Record<string, unknown>;
  readonly decoderSessionOptions?: Record<string, unknown>;
  /** Label of the options variant, for the table. */
  readonly label?: string;
  readonly modelDir?: string;
  /** `--device`: the encoder section runs the encoder there, the decoder section the decoder; both compare with the CPU. */
  readonly device?: Device;
  /** For the `external` child section: which bench/<module>.ts to run (see sections/external.ts). */
  readonly external?: string;
}

/** The figure a metric is judged by: the median for timings, else the value. */
export function headline(m: Metric): number | undefined {
  return m.summary?.median ?? m.value;
}
