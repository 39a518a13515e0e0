/**
 * Where an encoder's time goes, per onnxruntime op and output shape: the profile behind each
 * rewrite of `medicosam optimize` (docs/performance.md, "The encoder graph optimizer").
 *
 *   node dist/bench/profile-encoder.js ENCODER.onnx [--runs N] [--top K]
 *
 * Runs the encoder with the package's session options plus onnxruntime's profiler, warms up,
 * then sums the kernel time of the last run by (op, first output shape).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { samSessionOptions } from "../kernel/sam/session-options.js";

interface ProfileEvent {
  readonly cat: string;
  readonly name: string;
  readonly dur: number;
  readonly args: { readonly op_name?: string; readonly output_type_shape?: readonly Record<string, number[]>[] };
}

export interface OpRow {
  readonly op: string;
  readonly shape: string;
  readonly count: number;
  readonly ms: number;
}

export async function profileEncoder(file: string, runs = 2): Promise<{ rows: OpRow[]; totalMs: number; wallMs: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "medicosam-profile-"));
  try {
    const session = await ort.InferenceSession.create(file, { ...samSessionOptions(), enableProfiling: true, profileFilePrefix: join(dir, "p") });
    const meta = session.inputMetadata[0];
    const shape = (meta && "shape" in meta ? meta.shape : [1, 3, 1024, 1024]) as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new ort.Tensor("float32", Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.001)), shape);
    const wallMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      await session.run({ [session.inputNames[0]!]: x });
      wallMs.push(performance.now() - t);
    }
    session.endProfiling();
    await session.release();
    const profile = readdirSync(dir).find((f) => f.endsWith(".json"));
    if (!profile) throw new Error("onnxruntime wrote no profile");
    const events = (JSON.parse(readFileSync(join(dir, profile), "utf8")) as ProfileEvent[]).filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"));
    const last = events.slice(events.length - events.length / runs);
    const rows = new Map<string, { op: string; shape: string; count: number; us: number }>();
    let total = 0;
    for (const e of last) {
      const op = e.args.op_name ?? "?";
      const out = e.args.output_type_shape?.[0];
      const dims = out ? Object.values(out)[0] : undefined;
      const key = `${op} ${dims ? `[${dims.join(",")}]` : ""}`;
      const row = rows.get(key) ?? { op, shape: dims ? `[${dims.join(",")}]` : "", count: 0, us: 0 };
      row.count++;
      row.us += e.dur;
      total += e.dur;
      rows.set(key, row);
    }
    return {
      rows: [...rows.values()].map((r) => ({ op: r.op, shape: r.shape, count: r.count, ms: r.us / 1000 })).sort((a, b) => b.ms - a.ms),
      totalMs: total / 1000,
      wallMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { runs: { type: "string" }, top: { type: "string" } } });
  const file = positionals[0];
  if (!file) {
    console.error("usage: node dist/bench/profile-encoder.js ENCODER.onnx [--runs N] [--top K]");
    process.exitCode = 2;
    return;
  }
  const { rows, totalMs, wallMs } = await profileEncoder(file, Number(values.runs ?? 2));
  console.log(`${file}: runs ${wallMs.map((w) => w.toFixed(0)).join(", ")} ms; kernel time of the last ${totalMs.toFixed(0)} ms`);
  console.log("| op | output | nodes | ms | share |\n|---|---|---|---|---|");
  for (const r of rows.slice(0, Number(values.top ?? 20))) {
    console.log(`| ${r.op} | ${r.shape} | ${r.count} | ${r.ms.toFixed(1)} | ${((100 * r.ms) / totalMs).toFixed(1)} % |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
