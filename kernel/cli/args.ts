/**
 * Parsing helpers shared by subcommands: every bad argument becomes a UsageError whose
 * message says what was expected, and the command prints it with its usage text.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadModel, type LoadOptions, type SamModel } from "../sam/model.js";
import type { Box, Point } from "../sam/prompt.js";
import { DEVICE_ENV, defaultDevice, parseDevice, type Device } from "../sam/device.js";

export class UsageError extends Error {
  override name = "UsageError";
}

/** node:util parseArgs, with its errors turned into UsageError (usage + exit 2). */
export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = true,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function numbers(text: string, count: number, what: string, form: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.length !== count || parts.some((p) => p === "") || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`${what} '${text}' is not of the form ${form}.`);
  }
  return values;
}

/** `x,y,label`: x = column, y = row in original pixels; label 1/pos/+ or 0/neg/-. */
export function parsePoint(text: string): Point {
  const parts = text.split(",");
  if (parts.length !== 3) throw new UsageError(`--point '${text}' is not of the form x,y,label (e.g. 120,80,1).`);
  const [x, y] = numbers(parts.slice(0, 2).join(","), 2, "--point", "x,y,label");
  const label = parts[2]!.trim().toLowerCase();
  const positive = ["1", "pos", "positive", "+", "fg"].includes(label)
    ? true
    : ["0", "neg", "negative", "-", "bg"].includes(label)
      ? false
      : undefined;
  if (positive === undefined) {
    throw new UsageError(`--point '${text}': label '${parts[2]}' must be 1 (foreground) or 0 (background).`);
  }
  return { x: x!, y: y!, positive };
}

/** `x0,y0,x1,y1` in original pixels. */
export function parseBox(text: string): Box {
  const [x0, y0, x1, y1] = numbers(text, 4, "--box", "x0,y0,x1,y1");
  return { x0: x0!, y0: y0!, x1: x1!, y1: y1! };
}

/** Model options shared by subcommands: `--model DIR` or `--encoder F --decoder F`. */
export const modelOptions = {
  model: { type: "string" },
  encoder: { type: "string" },
  decoder: { type: "string" },
  precision: { type: "string" },
  device: { type: "string" },
  unoptimized: { type: "boolean" },
} as const;

export const MODEL_USAGE =
  "  --model DIR            model folder (encoder.onnx, decoder.onnx, model.json), e.g. models/analytic\n" +
  "  --encoder F --decoder F  the two ONNX files instead of a folder\n" +
  "  --precision P          fp32 (default) or int8 (the encoder written by `medicosam quantize`)\n" +
  "  --unoptimized          run encoder.onnx even where `medicosam optimize` wrote a faster equivalent\n" +
  `  --device D             where the encoder runs: cpu (default), webgpu, cuda, or auto (first GPU that\n` +
  `                         starts, else cpu); default $${DEVICE_ENV}`;

/** `--device`, else $MEDICOSAM_DEVICE, else cpu; a bad value is a usage error naming its source. */
export function deviceOption(value: string | undefined): Device {
  try {
    return value === undefined ? defaultDevice() : parseDevice(value, "--device");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function openModel(
  values: { model?: string; encoder?: string; decoder?: string; precision?: string; device?: string; unoptimized?: boolean },
  loadOptions: LoadOptions = {},
): Promise<SamModel> {
  const precision = values.precision ?? "fp32";
  if (precision !== "fp32" && precision !== "int8") throw new UsageError(`--precision must be fp32 or int8, not '${precision}'.`);
  const device = deviceOption(values.device);
  const options: LoadOptions = { ...loadOptions, precision, device, ...(values.unoptimized ? { optimized: false } : {}) };
  if (values.model && (values.encoder || values.decoder)) {
    throw new UsageError("give either --model DIR or --encoder and --decoder, not both.");
  }
  let model: SamModel;
  if (values.model) model = await loadModel(values.model, options);
  else if (values.encoder && values.decoder) model = await loadModel({ encoder: values.encoder, decoder: values.decoder }, options);
  else if (values.encoder || values.decoder) throw new UsageError("--encoder and --decoder go together.");
  else throw new UsageError("no model: give --model DIR (e.g. --model models/analytic) or --encoder F --decoder F.");
  announceDevices(model, device);
  return model;
}

/**
 * One stderr line when the user chose a GPU device, so that they see where the sessions run
 * (`auto` has said so already, in its notice).
 */
export function announceDevices(model: SamModel, requested: Device): void {
  if (requested === "cpu" || requested === "auto") return;
  const d = model.devices;
  console.error(`device: encoder on ${d.encoder}, decoder on ${d.decoder} (asked for ${requested})`);
}

/** Runs a subcommand body, turning UsageError into usage + exit 2 and other errors into exit 1. */
export async function runCommand(usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n\n${usage}`);
      return 2;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
