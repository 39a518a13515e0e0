/** `medicosam optimize`: rewrite a SAM-family ViT encoder for onnxruntime's CPU, outputs checked. */
import { join } from "node:path";
import { DEFAULT_CHUNK_BYTES, NotAnEncoderError } from "../onnx/optimize/optimize-encoder.js";
import { optimizeTarget } from "../onnx/optimize/optimize-folder.js";
import { DEFAULT_TOLERANCE } from "../onnx/optimize/verify-equivalence.js";
import { parse, runCommand, UsageError } from "./args.js";

export const USAGE = `usage: medicosam optimize MODEL [--chunk-mb N] [--no-verify] [--tolerance T] [--output FILE]

Rewrites the image encoder of MODEL (a model folder, a registry name such as medicosam, or an
encoder .onnx file) so that onnxruntime runs it faster and in far less memory:
  - the export's shape arithmetic folded into constants (onnxruntime's basic level);
  - add_decomposed_rel_pos's Einsums as batched MatMuls;
  - each attention (softmax(q k^T + relative-position terms) v) computed a few heads and query
    rows at a time, so that ViT-B's [12, 4096, 4096] logits never exist whole.
Then runs the original and the rewrite on a random and a real image and refuses to write a
result whose output differs by more than the tolerance. A folder gets encoder.optimized.onnx,
recorded in model.json ('encoderOptimized') and run by default on the CPU; a file gets
<name>.optimized.onnx beside it.

options:
  --chunk-mb N     logits per attention chunk, in MB (default ${DEFAULT_CHUNK_BYTES / 2 ** 20}; measured best on a 2-core EPYC)
  --no-verify      skip the comparison run (the original ViT-B needs ~4 GB for it)
  --tolerance T    largest allowed output difference (default ${DEFAULT_TOLERANCE})
  --output FILE    where to write, for a single .onnx file`;

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values, positionals } = parse(args, {
      "chunk-mb": { type: "string" },
      "no-verify": { type: "boolean" },
      tolerance: { type: "string" },
      output: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length ? "give exactly one MODEL." : "no MODEL given (a model folder, a name such as medicosam, or an encoder .onnx file).");
    const chunkMb = values["chunk-mb"] === undefined ? undefined : Number(values["chunk-mb"]);
    if (chunkMb !== undefined && !(chunkMb > 0)) throw new UsageError(`--chunk-mb must be a positive number of megabytes, not '${values["chunk-mb"]}'.`);
    const tolerance = values.tolerance === undefined ? undefined : Number(values.tolerance);
    if (tolerance !== undefined && !(tolerance > 0)) throw new UsageError(`--tolerance must be a positive number, not '${values.tolerance}'.`);
    let result;
    try {
      result = await optimizeTarget(positionals[0]!, {
        ...(chunkMb !== undefined ? { chunkBytes: Math.round(chunkMb * 2 ** 20) } : {}),
        ...(tolerance !== undefined ? { tolerance } : {}),
        verify: !values["no-verify"],
        ...(values.output ? { output: values.output } : {}),
      });
    } catch (err) {
      if (err instanceof NotAnEncoderError) {
        console.error(`medicosam optimize: ${positionals[0]}: ${err.message}`);
        return 1;
      }
      throw err;
    }
    const r = result.report;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    console.log(`nodes: ${r.nodesIn} exported, ${r.nodesCanonical} after folding constants, ${r.nodesOut} rewritten`);
    const shapes = new Map<string, number>();
    for (const a of r.attention) {
      const key = `attention ${a.shape[0]} x ${a.shape[1]}x${a.shape[2]} queries: ${a.chunks} chunks of ${a.plan.heads} x ${a.plan.rows * a.shape[2]}`;
      shapes.set(key, (shapes.get(key) ?? 0) + 1);
    }
    for (const [k, n] of shapes) console.log(`  ${n} x ${k}`);
    console.log(`  ${r.einsumsRewritten} relative-position Einsum(s) as batched MatMuls`);
    for (const u of r.unrecognised) console.log(`  not recognised, kept as is: ${u.node}: ${u.reason}`);
    if (result.equivalence) {
      const per = result.equivalence.inputs.map((i) => `${i.name} ${i.maxAbsDiff.toExponential(2)} (outputs up to ${i.maxAbsValue.toFixed(2)})`);
      console.log(`checked: largest output difference ${per.join(", ")}; allowed ${result.equivalence.tolerance}`);
    } else {
      console.log("not checked (--no-verify)");
    }
    console.log(`${result.file}: ${mb(result.bytesOut)} MB (original ${mb(result.bytesIn)} MB), sha256 ${result.sha256}, ${result.seconds.toFixed(1)} s`);
    if (result.folder) console.log(`recorded in ${join(result.folder, "model.json")} as encoderOptimized; loadModel runs it on the CPU (--unoptimized / { optimized: false } to not)`);
    return 0;
  });
}
