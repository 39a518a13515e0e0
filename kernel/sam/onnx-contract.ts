/**
 * The ONNX contract of SAM-family models (docs/inference.md §2), checked against what the
 * sessions report, so that a wrongly exported model fails at load time with a message
 * that says what is wrong and how to export a correct one — not with a shape error deep
 * inside onnxruntime at the first click.
 */

/** What onnxruntime reports for one input or output (a subset of its ValueMetadata). */
export interface ValueInfo {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: ReadonlyArray<number | string>;
}

export const EXPORT_HINT =
  "Export SAM-family checkpoints with models/export (see README, \"Use MedicoSAM\"): the encoder takes the " +
  "normalized, zero-padded image [1,3,1024,1024] and returns [1,256,64,64]; the decoder is the official " +
  "SamOnnxModel layout, preferably with return_single_mask=False (4 masks).";

export class ModelContractError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}\n${EXPORT_HINT}`);
    this.name = "ModelContractError";
  }
}

/** Names the engine uses for the encoder's single input and its embedding output. */
export interface EncoderIo {
  readonly input: string;
  readonly output: string;
}

/** Decoder input names are fixed by the official exporter; outputs likewise. */
export const DECODER_INPUTS = [
  "image_embeddings",
  "point_coords",
  "point_labels",
  "mask_input",
  "has_mask_input",
  "orig_im_size",
] as const;
export const DECODER_OUTPUTS = ["masks", "iou_predictions", "low_res_masks"] as const;

const ENCODER_INPUT_SHAPE = [1, 3, 1024, 1024];
const EMBEDDING_SHAPE = [1, 256, 64, 64];

function describeShape(shape: ReadonlyArray<number | string> | undefined): string {
  return shape && shape.length ? `[${shape.join(",")}]` : "[unknown]";
}

/** A reported shape fits when every numeric dim matches; symbolic dims fit anything. */
function shapeFits(shape: ReadonlyArray<number | string> | undefined, expected: readonly number[]): boolean {
  if (!shape || shape.length === 0) return true; // the model does not say; checked at run time
  if (shape.length !== expected.length) return false;
  return shape.every((d, i) => typeof d !== "number" || d < 0 || d === expected[i]);
}

function checkFloat(file: string, v: ValueInfo, role: string): void {
  if (!v.isTensor) throw new ModelContractError(file, `${role} '${v.name}' is not a tensor.`);
  if (v.type && v.type !== "float32") {
    throw new ModelContractError(file, `${role} '${v.name}' is ${v.type}; float32 is required.`);
  }
}

/**
 * Finds the encoder's input and embedding output. Names vary between exporters
 * (`image`, `input_image`, `x`...), so they are read, never assumed.
 */
export function checkEncoder(file: string, inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): EncoderIo {
  if (inputs.length !== 1) {
    throw new ModelContractError(
      file,
      `an encoder has exactly one input (the image [1,3,1024,1024]); this model has ${inputs.length}: ` +
        `${inputs.map((i) => i.name).join(", ") || "none"}. Is this the decoder?`,
    );
  }
  const input = inputs[0]!;
  checkFloat(file, input, "input");
  if (!shapeFits(input.shape, ENCODER_INPUT_SHAPE)) {
    throw new ModelContractError(
      file,
      `input '${input.name}' has shape ${describeShape(input.shape)}; expected [1,3,1024,1024] ` +
        "(models that take an unpadded or uint8 image need the preprocessing baked out).",
    );
  }
  const candidates = outputs.filter((o) => o.isTensor && shapeFits(o.shape, EMBEDDING_SHAPE) && (o.shape?.length ?? 0) === 4);
  const output = candidates.length === 1 ? candidates[0] : outputs.length === 1 ? outputs[0] : undefined;
  if (!output) {
    throw new ModelContractError(
      file,
      `no output of shape [1,256,64,64] among ${outputs.map((o) => `'${o.name}' ${describeShape(o.shape)}`).join(", ")}.`,
    );
  }
  checkFloat(file, output, "output");
  if (!shapeFits(output.shape, EMBEDDING_SHAPE)) {
    throw new ModelContractError(file, `output '${output.name}' has shape ${describeShape(output.shape)}; expected [1,256,64,64].`);
  }
  return { input: input.name, output: output.name };
}

/**
 * Checks the decoder's inputs and outputs and returns the number of masks it reports
 * (4 or 1), or undefined when its shape is symbolic (then the first run tells).
 */
export function checkDecoder(file: string, inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]): 1 | 4 | undefined {
  const inNames = new Set(inputs.map((i) => i.name));
  const missing = DECODER_INPUTS.filter((n) => !inNames.has(n));
  if (missing.length) {
    const looksLikeEncoder = inputs.length === 1;
    throw new ModelContractError(
      file,
      `decoder input(s) missing: ${missing.join(", ")} (it has: ${[...inNames].join(", ") || "none"}).` +
        (looksLikeEncoder ? " This looks like an encoder: are encoder and decoder swapped?" : ""),
    );
  }
  const extra = inputs.filter((i) => !(DECODER_INPUTS as readonly string[]).includes(i.name));
  if (extra.length) {
    throw new ModelContractError(file, `unexpected decoder input(s): ${extra.map((e) => e.name).join(", ")}.`);
  }
  for (const i of inputs) checkFloat(file, i, "input");
  const emb = inputs.find((i) => i.name === "image_embeddings")!;
  if (!shapeFits(emb.shape, EMBEDDING_SHAPE)) {
    throw new ModelContractError(file, `input 'image_embeddings' has shape ${describeShape(emb.shape)}; expected [1,256,64,64].`);
  }
  const mask = inputs.find((i) => i.name === "mask_input")!;
  if (!shapeFits(mask.shape, [1, 1, 256, 256])) {
    throw new ModelContractError(file, `input 'mask_input' has shape ${describeShape(mask.shape)}; expected [1,1,256,256].`);
  }
  const outNames = new Set(outputs.map((o) => o.name));
  const missingOut = DECODER_OUTPUTS.filter((n) => !outNames.has(n));
  if (missingOut.length) {
    throw new ModelContractError(file, `decoder output(s) missing: ${missingOut.join(", ")} (it has: ${[...outNames].join(", ")}).`);
  }
  const iou = outputs.find((o) => o.name === "iou_predictions")!;
  const c = iou.shape && iou.shape.length === 2 ? iou.shape[1] : undefined;
  if (typeof c === "number" && c >= 0) {
    if (c !== 1 && c !== 4) {
      throw new ModelContractError(file, `'iou_predictions' has ${c} masks; SAM decoders have 4 (or 1 for a single-mask export).`);
    }
    return c;
  }
  return undefined;
}
