/**
 * `npm run bench`: timings and memory of the per-image and per-click paths with a model of
 * MedicoSAM's exact architecture (random weights, generated on first use into bench/.models/).
 *
 * Every section runs in a child process of its own: peak memory is per process, and the first
 * encoder run of a process is slow, so sharing one process would make each figure depend on
 * what ran before it. Prints a table (medians after warm-up, p95 where useful) and writes
 * bench/results/latest.json.
 *
 *   node dist/bench/run.js [--only preprocess,encoder,decoder,options,volume,...] [--quick] [--runs N]
 *                          [--json FILE] [--timeout MINUTES] [--wait-idle MINUTES] [--device D] [--model DIR]
 */
import { fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../kernel/package-root.js";
import { parseDevice, type Device } from "../kernel/sam/device.js";
import { findModelFolder } from "../kernel/sam/registry.js";
import { defaultBenchModelDir, ensureBenchModel } from "../models/bench/generate.js";
import { ContentionMeter, waitForIdle } from "./contention.js";
import { ensureOptimizedEncoder } from "./optimized-encoder.js";
import { cpuMsWithReapedChildren } from "./memory.js";
import { OPTIONS_MATRIX } from "./options-matrix.js";
import { EXTERNAL_BENCHES } from "./sections/external.js";
import { renderTable, verdict } from "./table.js";
import { headline, type Metric, type SectionConfig, type SectionResult } from "./types.js";

/** Our sections, then the benchmark modules of other parts of the package (sections/external.ts). */
const SECTIONS = ["preprocess", "encoder", "decoder", "options", ...EXTERNAL_BENCHES.map((b) => b.section)];
type SectionName = string;
/** Sections a child process can run (options is the encoder section, repeated). */
const CHILD_SECTIONS = ["preprocess", "encoder", "decoder", "external"] as const;
type ChildSection = (typeof CHILD_SECTIONS)[number];

interface Args {
  only: SectionName[];
  quick: boolean;
  runs?: number;
  json: string;
  timeoutMin: number;
  /** Minutes to wait, before each section, for other processes to leave the CPUs alone. */
  waitIdleMin: number;
  /** Where the encoder (encoder section) and the decoder (decoder section) run; compared with the CPU. */
  device?: Device;
  /** A model folder or registry name instead of the random-weight ViT-B. */
  model?: string;
}

const USAGE = `usage: node dist/bench/run.js [options]

  --only LIST      comma-separated sections: ${SECTIONS.join(", ")} (default: all)
  --quick          fewer repetitions (a rough look in about a minute)
  --runs N         timed repetitions of each section's main step (encoder runs, clicks, ...)
  --json FILE      where to write the results (default bench/results/latest.json)
  --timeout MIN    give up on a section after MIN minutes (default 15)
  --wait-idle MIN  before each section, wait for the machine to be idle, MIN minutes in all
                   (for shared machines; default 0: start at once)
  --device D       the device check: the encoder section runs the encoder on D (webgpu, cuda,
                   auto), the decoder section the decoder, and both print their agreement with
                   the CPU (embedding difference, mask IoU/Dice, chosen token, predicted IoU)
  --model M        a model folder or registry name (e.g. medicosam, demo) instead of the
                   random-weight ViT-B (whose masks mean nothing, so agreement is all it shows);
                   the optimize section writes the folder's optimized encoder into it`;

function parseArgs(argv: string[]): Args {
  const args: Args = { only: [...SECTIONS], quick: false, json: join(packageRoot(), "bench", "results", "latest.json"), timeoutMin: 15, waitIdleMin: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n\n${USAGE}`);
      return v;
    };
    if (a === "--only") {
      const names = value().split(",").map((s) => s.trim()).filter(Boolean);
      for (const n of names) {
        if (!(SECTIONS as readonly string[]).includes(n)) throw new Error(`unknown section '${n}'; choose from ${SECTIONS.join(", ")}`);
      }
      args.only = names;
    } else if (a === "--quick") args.quick = true;
    else if (a === "--runs") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`--runs needs a positive integer, got '${argv[i]}'`);
      args.runs = n;
    } else if (a === "--json") args.json = resolve(value());
    else if (a === "--timeout") {
      const n = Number(value());
      if (!(n > 0)) throw new Error(`--timeout needs a number of minutes > 0, got '${argv[i]}'`);
      args.timeoutMin = n;
    } else if (a === "--wait-idle") {
      const n = Number(value());
      if (!(n >= 0)) throw new Error(`--wait-idle needs a number of minutes >= 0, got '${argv[i]}'`);
      args.waitIdleMin = n;
    } else if (a === "--device") {
      args.device = parseDevice(value(), "--device");
    } else if (a === "--model") {
      args.model = value();
    } else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option '${a}'\n\n${USAGE}`);
  }
  return args;
}

/** Above this share of the CPUs taken by other processes, a section's wall times are flagged. */
const CONTENTION_WARN = 0.1;

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/**
 * Runs one section in a fresh Node process (same entry file, `--child`) and returns its result;
 * the meter learns how much CPU other processes used meanwhile.
 */
function runChild(section: ChildSection, config: SectionConfig, timeoutMin: number, meter: ContentionMeter): Promise<SectionResult> {
  return meter.measure(() => runChildProcess(section, config, timeoutMin));
}

function runChildProcess(section: ChildSection, config: SectionConfig, timeoutMin: number): Promise<{ value: SectionResult; childCpuMs: number | undefined }> {
  const self = fileURLToPath(import.meta.url);
  const execArgv = self.endsWith(".ts") ? ["--import", "tsx"] : [];
  return new Promise((resolvePromise, reject) => {
    const child = fork(self, ["--child", section, JSON.stringify(config)], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let settled = false;
    const timer = setTimeout(() => {
      if (child.pid !== undefined) child.kill("SIGKILL");
      finish(new Error(`${section}: no result after ${timeoutMin} min; killed it (raise --timeout if the machine is busy)`));
    }, timeoutMin * 60_000);
    const finish = (err: Error | undefined, result?: SectionResult, childCpuMs?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolvePromise({ value: result!, childCpuMs });
    };
    child.on("message", (msg: { ok: boolean; result?: SectionResult; error?: string; cpuMs?: number }) => {
      if (msg.ok && msg.result) finish(undefined, msg.result, msg.cpuMs);
      else finish(new Error(msg.error ?? `${section}: the child reported a failure without a message`));
    });
    child.on("exit", (code, signal) => {
      finish(
        new Error(
          signal === "SIGKILL"
            ? `${section}: the process was killed (SIGKILL), most likely out of memory`
            : `${section}: the process exited (code ${code}, signal ${signal}) before reporting`,
        ),
      );
    });
    child.on("error", (err) => finish(err));
  });
}

async function childMain(section: string, configJson: string): Promise<void> {
  if (!(CHILD_SECTIONS as readonly string[]).includes(section)) throw new Error(`unknown child section '${section}'`);
  const config = JSON.parse(configJson) as SectionConfig;
  const mod = (await import(`./sections/${section}.js`)) as { run(c: SectionConfig): Promise<SectionResult> };
  try {
    const result = await mod.run(config);
    // Disconnecting lets the child exit: an open IPC channel keeps its event loop alive.
    process.send!({ ok: true, result, cpuMs: cpuMsWithReapedChildren() }, () => process.disconnect());
  } catch (err) {
    process.exitCode = 1;
    process.send!({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ""}` : String(err) }, () => process.disconnect());
  }
}

function failed(section: string, err: unknown): SectionResult {
  const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
  return { section, metrics: [{ name: `FAILED: ${message}`, unit: "" }], details: { error: err instanceof Error ? err.message : String(err) } };
}

/** One row per variant and figure, so the matrix reads as a comparison. */
function comparisonSection(section: string, results: { label: string; result?: SectionResult; error?: string }[]): SectionResult {
  const metrics: Metric[] = [];
  const pick = (r: SectionResult, prefix: string) => r.metrics.find((m) => m.name.startsWith(prefix));
  for (const { label, result, error } of results) {
    if (!result) {
      metrics.push({ name: `${label}: FAILED: ${error}`, unit: "" });
      continue;
    }
    for (const [prefix, short] of [
      ["  of which encoder session.run", "encoder session.run"],
      ["embed() CPU time", "embed() CPU time, all threads"],
      ["segment() right after", "segment() after encoding"],
      ["peak RSS during encoding", "peak RSS during encoding"],
      ["RSS after load", "RSS after load"],
    ] as const) {
      const m = pick(result, prefix);
      if (m) metrics.push({ ...m, name: `${label}: ${short}`, note: undefined });
    }
  }
  return { section, metrics, details: { variants: results } };
}

/** Cross-section ratio: the preprocessing section's totals against the encoder's session.run. */
function ratioSection(results: readonly SectionResult[]): SectionResult | undefined {
  const pre = results.find((r) => r.section === "preprocess");
  const enc = results.find((r) => r.section === "encoder");
  const encMs = enc?.metrics.find((m) => m.name.startsWith("  of which encoder session.run"))?.summary?.median;
  if (!pre || encMs === undefined) return undefined;
  const metrics: Metric[] = [];
  for (const m of pre.metrics) {
    if (!m.name.endsWith(": total") || !m.summary) continue;
    metrics.push({
      name: `${m.name.replace(": total", "")} preprocessing / encoder`,
      unit: "%",
      value: (m.summary.median / encMs) * 100,
      target: { max: 5, text: "< 5 %" },
    });
  }
  return { section: "ratio", metrics };
}

function machine(): Record<string, unknown> {
  const ortPkg = join(packageRoot(), "node_modules", "onnxruntime-node", "package.json");
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    totalMemMB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    onnxruntimeNode: existsSync(ortPkg) ? (JSON.parse(readFileSync(ortPkg, "utf8")) as { version: string }).version : undefined,
  };
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--child") {
    await childMain(argv[1] ?? "", argv[2] ?? "{}");
    return process.exitCode === 1 ? 1 : 0;
  }
  const args = parseArgs(argv);
  const started = new Date();
  const load0 = loadavg();
  const needsModel = args.only.some((s) => s === "encoder" || s === "decoder" || s === "options");
  const modelDir = args.model ? (existsSync(args.model) ? resolve(args.model) : findModelFolder(args.model)) : defaultBenchModelDir();
  if (needsModel && !args.model) {
    const gen = ensureBenchModel(modelDir, { log });
    if (!gen.generated) log(`using the cached benchmark model in ${modelDir}`);
  }
  if (!args.model && args.only.some((s) => s === "encoder" || s === "options")) {
    // The engine runs the folder's optimized encoder on the CPU when there is one: make it now,
    // so that these sections always measure what a user runs, not whatever an earlier
    // `--only optimize` left behind.
    try {
      await ensureOptimizedEncoder(modelDir, log);
    } catch (err) {
      log(`no optimized encoder (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); the encoder sections run the original`);
    }
  }
  const base: SectionConfig = { quick: args.quick, ...(args.runs ? { runs: args.runs } : {}), modelDir, ...(args.device ? { device: args.device } : {}) };
  const results: SectionResult[] = [];
  /** 1-minute load average at the end of each section: how far to trust its wall times. */
  const sectionLoad: Record<string, number> = {};
  /** --wait-idle is one budget for the whole run, not per section. */
  const idleDeadline = performance.now() + args.waitIdleMin * 60_000;
  /** Share of the machine's CPU that other processes used during each section. */
  const othersShare: Record<string, number | undefined> = {};
  for (const section of SECTIONS) {
    if (!args.only.includes(section)) continue;
    if (args.waitIdleMin > 0) await waitForIdle(Math.max(0, idleDeadline - performance.now()) / 60_000, CONTENTION_WARN, log);
    const t0 = performance.now();
    const meter = new ContentionMeter();
    if (section === "options") {
      const configs: SectionConfig[] = OPTIONS_MATRIX.map((v) => ({ ...base, label: v.label, encoderSessionOptions: v.options, decoderSessionOptions: v.options }));
      const variants: { label: string; result?: SectionResult; error?: string }[] = [];
      for (const config of configs) {
        const label = config.label!;
        log(`${section}: ${label} ...`);
        try {
          variants.push({ label, result: await runChild("encoder", { ...config, runs: args.runs ?? 2 }, args.timeoutMin, meter) });
        } catch (err) {
          variants.push({ label, error: err instanceof Error ? err.message : String(err) });
        }
      }
      results.push(comparisonSection(section, variants));
    } else {
      log(`${section} ...`);
      const external = EXTERNAL_BENCHES.find((b) => b.section === section);
      try {
        results.push(
          external
            ? await runChild(
                "external",
                // The bench model is the module's own choice unless --model names one.
                { quick: args.quick, external: external.section, ...(args.runs ? { runs: args.runs } : {}), ...(args.model ? { modelDir } : {}) },
                args.timeoutMin,
                meter,
              )
            : await runChild(section as ChildSection, base, args.timeoutMin, meter),
        );
      } catch (err) {
        results.push(failed(section, err));
      }
    }
    othersShare[section] = meter.share();
    const share = othersShare[section];
    log(
      `${section} done in ${((performance.now() - t0) / 1000).toFixed(0)} s` +
        (share === undefined ? "" : `; other processes used ${(share * 100).toFixed(0)} % of the CPUs meanwhile`),
    );
    sectionLoad[section] = loadavg()[0]!;
  }
  const ratio = ratioSection(results);
  if (ratio) results.push(ratio);

  const durationS = (Date.now() - started.getTime()) / 1000;
  console.log(renderTable(results));
  const load1 = loadavg();
  console.log(
    `\n${durationS.toFixed(0)} s; load average ${load0[0]!.toFixed(1)} at start, ${load1[0]!.toFixed(1)} at end (${cpus().length} cores).`,
  );
  const contended = Object.entries(othersShare).filter(([, v]) => v !== undefined && v > CONTENTION_WARN);
  if (contended.length > 0) {
    console.log(
      `other processes used ${contended.map(([k, v]) => `${(v! * 100).toFixed(0)} % of the CPUs during ${k}`).join(", ")}: ` +
        "those wall times are inflated; compare by CPU time or rerun on an idle machine.",
    );
  }
  mkdirSync(dirname(args.json), { recursive: true });
  writeFileSync(
    args.json,
    `${JSON.stringify({ startedAt: started.toISOString(), durationS, loadAverage: { start: load0, end: load1, bySection: sectionLoad }, othersCpuShare: othersShare, machine: machine(), args, results }, null, 2)}\n`,
  );
  console.log(`results written to ${args.json}`);
  const anyFailed = results.some((r) => r.metrics.some((m) => m.name.includes("FAILED")));
  const missed = results.flatMap((r) => r.metrics.filter((m) => verdict(m) === "MISSED").map((m) => `${r.section}: ${m.name} = ${headline(m)?.toFixed(1)} ${m.unit}`));
  if (missed.length > 0) console.log(`\ntargets missed:\n  ${missed.join("\n  ")}`);
  // Missed targets are findings, not errors; a section that could not run is an error.
  return anyFailed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
