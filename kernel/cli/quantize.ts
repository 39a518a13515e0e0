/** `medicosam quantize`: write a model folder's int8 encoder and record it in model.json. */
import { cpus } from "node:os";
import { join } from "node:path";
import { readImage } from "../io/read-image.js";
import { compareModelsSequentially } from "../onnx/quantize-check.js";
import { cpuHasVnni, u8s8MaySaturate } from "../onnx/cpu-features.js";
import { quantizeModelFolder } from "../onnx/quantize-folder.js";
import { loadModel } from "../sam/model.js";
import { packageRoot } from "../package-root.js";
import { parse, runCommand, UsageError } from "./args.js";

export const USAGE = `usage: medicosam quantize MODEL [--per-tensor] [--reduce-range | --full-range] [--check [IMAGE]]

Dynamic int8 quantization of MODEL's encoder (a model folder or a registry name such as
medicosam): every MatMul with a constant weight gets int8 weights; activations are quantized
per run. Writes encoder.int8.onnx next to encoder.onnx and records it in model.json
('encoderInt8'); load it with loadModel(MODEL, { precision: "int8" }).

options:
  --per-tensor     one scale per weight matrix instead of one per output column (less accurate)
  --reduce-range   7-bit weights: for x86 CPUs without VNNI, where 8-bit u8*s8 products can
                   saturate; the default there (${vnniNote()})
  --full-range     8-bit weights even so (for a file meant for a CPU with VNNI)
  --check [IMAGE]  afterwards compare float32 and int8: embedding error and mask IoU over a fixed
                   prompt set on IMAGE (default the shipped sample data/phantom-slice.png)`;

function vnniNote(): string {
  if (!u8s8MaySaturate()) return process.arch === "x64" ? "this CPU has VNNI: 8-bit by default" : "not x86: 8-bit by default";
  return cpuHasVnni() === undefined ? "VNNI unknown on this system: 7-bit by default" : "this CPU has no VNNI: 7-bit by default";
}

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    // --check takes an optional value; node's parseArgs cannot, so peel it off first.
    const rest = [...args];
    let check: string | undefined;
    const ci = rest.indexOf("--check");
    if (ci >= 0) {
      const next = rest[ci + 1];
      const takesValue = next !== undefined && !next.startsWith("--") && rest.filter((a) => !a.startsWith("--")).length > 1;
      check = takesValue ? next : join(packageRoot(), "data", "phantom-slice.png");
      rest.splice(ci, takesValue ? 2 : 1);
    }
    const { values, positionals } = parse(rest, {
      "per-tensor": { type: "boolean" },
      "reduce-range": { type: "boolean" },
      "full-range": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length ? "give exactly one MODEL." : "no MODEL given (a model folder or a name such as medicosam).");
    if (values["reduce-range"] && values["full-range"]) throw new UsageError("--reduce-range and --full-range contradict each other; give one.");
    const source = positionals[0]!;
    const result = await quantizeModelFolder(source, {
      granularity: values["per-tensor"] ? "per-tensor" : "per-column",
      // Neither flag: the CPU decides (7-bit where 8-bit would saturate).
      ...(values["reduce-range"] ? { reduceRange: true } : values["full-range"] ? { reduceRange: false } : {}),
    });
    const r = result.report;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    console.log(
      `quantized ${r.quantized} of ${r.matmuls} MatMuls (${r.weightTensors} weight tensors, ${r.weightElements.toLocaleString("en-US")} weights, ` +
        `${r.granularity} scales${r.reduceRange ? ", 7-bit" : ""}); largest weight error ${r.maxWeightError.toExponential(2)}`,
    );
    if (r.skipped.length) {
      const byReason = new Map<string, number>();
      for (const s of r.skipped) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + 1);
      for (const [reason, n] of byReason) console.log(`  kept float32: ${n} MatMul(s): ${reason}`);
    }
    console.log(`${result.file}: ${mb(r.bytesOut)} MB (float32 ${mb(r.bytesIn)} MB), sha256 ${result.sha256}, ${result.seconds.toFixed(1)} s`);
    console.log(`recorded in ${join(result.folder, "model.json")} as encoderInt8; load with { precision: "int8" }`);
    const vnni = cpuHasVnni();
    if (u8s8MaySaturate()) {
      console.log(
        `note: this CPU (${cpus()[0]?.model ?? "unknown"}) has no VNNI${vnni === undefined ? " that we could see" : ""}: int8 gains little here` +
          (r.reduceRange ? "; 7-bit weights, so that onnxruntime's u8*s8 products cannot saturate." : "; these 8-bit weights can saturate here (--full-range), use them on a CPU with VNNI."),
      );
    }
    if (check) {
      const image = await readImage(check);
      const c = await compareModelsSequentially(
        () => loadModel(result.folder),
        () => loadModel(result.folder, { precision: "int8" }),
        image,
      );
      console.log(
        `check on ${check}: embedding relative error ${(100 * c.embedding.relative).toFixed(2)} %, ` +
          `mask IoU min ${c.minIou.toFixed(4)} mean ${c.meanIou.toFixed(4)} over ${c.prompts.length} prompts; ` +
          `encoder ${c.fp32EncoderMs?.toFixed(0)} ms (float32) vs ${c.int8EncoderMs?.toFixed(0)} ms (int8), one cold run each`,
      );
      if (c.minIou < 0.95) {
        console.log("warning: some int8 masks differ from float32 (IoU < 0.95); try without --per-tensor, or keep float32.");
        return 1;
      }
    }
    return 0;
  });
}
