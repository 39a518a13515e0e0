/**
 * `medicosam` command line. Each subcommand lives in `cli/<name>.ts` and exports
 * `run(args): Promise<number>` (the exit code), so that a subcommand loads only what it needs.
 */
const subcommands: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  segment: { summary: "segment an image from points, a box or a mask", load: () => import("./cli/segment.js") },
  automatic: { summary: "segment everything in an image (segment_anything's automatic mask generator)", load: () => import("./cli/automatic.js") },
  embed: { summary: "compute and save an image embedding", load: () => import("./cli/embed.js") },
  demo: { summary: "run the main job on the shipped sample and model", load: () => import("./cli/demo.js") },
  install: { summary: "install the Jupyter kernel \"MedicoSAM (TypeScript)\" and its widgets", load: () => import("./cli/install.js") },
  uninstall: { summary: "remove the Jupyter kernel and its widgets", load: () => import("./cli/uninstall.js") },
  optimize: { summary: "rewrite a SAM ViT encoder's attention for onnxruntime's CPU: faster, ~3x less memory, same outputs", load: () => import("./cli/optimize.js") },
  quantize: { summary: "int8 encoder for a model folder (dynamic quantization; faster on CPUs with VNNI)", load: () => import("./cli/quantize.js") },
  info: { summary: "describe a NIfTI, Analyze or DICOM volume: dims, spacing, affine, orientation, values", load: () => import("./cli/info.js") },
  seg: { summary: "a label map as a DICOM SEG that references its DICOM series", load: () => import("./cli/seg.js") },
  semantic: { summary: "train a semantic head on a few labelled slices' embeddings; label a volume with it", load: () => import("./cli/semantic.js") },
  evaluate: { summary: "the paper's simulated interactive segmentation on images + label maps: tables and chart", load: () => import("./cli/evaluate.js") },
  cohort: { summary: "a dataset of volumes embedded and evaluated locally or as Slurm job arrays, resumable", load: () => import("./cli/cohort.js") },
};

/** Subcommands contributed by other parts of the package register here (install, info, ...). */
export function usage(): string {
  const lines = Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`);
  return `usage: medicosam <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun \`medicosam <command> --help\` for the options of one command.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const sub = subcommands[name];
  if (!sub) {
    console.error(`medicosam: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  const mod = await sub.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`medicosam: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
