#!/usr/bin/env node
/**
 * `npm run build:widgets`: the widgets' prebuilt JupyterLab 4 / Notebook 7 extension, from npm
 * packages alone (no Python, no jupyter labextension command).
 *
 *   1. type-check the browser code (widgets/tsconfig.json: DOM types, never part of the kernel build);
 *   2. esbuild bundles widgets/labextension/src/index.ts into labextension/lib/index.js, leaving
 *      @jupyter-widgets/base external (the widget manager provides it as a shared singleton);
 *   3. @jupyterlab/builder's build-labextension packs lib/ as a federated module into
 *      dist/labextension/ (its package.json names static/remoteEntry.*.js), which
 *      `medicosam install` copies into <jupyter data dir>/labextensions/medicosam-widgets/.
 *
 * build-labextension runs with widgets/labextension as its working directory: webpack names the
 * chunk-loading global after the package.json there (webpackChunkmedicosam_widgets). Run from the
 * repository root it would take the root package's name, and two extensions sharing a global
 * corrupt each other's module tables in production builds.
 *
 * Skipped when dist/labextension is newer than every input (npm test and npm run demo build each
 * time; the pack takes about 15 s on 2 cores). --force rebuilds anyway.
 *
 *   node widgets/build.mjs [--development] [--no-typecheck] [--force]
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const extDir = join(here, "labextension");
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!["--development", "--no-typecheck", "--force"].includes(a)) {
    console.error(`build:widgets: unknown option ${a} (use --development, --no-typecheck, --force)`);
    process.exit(2);
  }
}

/** Every file the extension is built from: the browser side, the code it shares with the kernel, the packaging. */
function inputs() {
  const files = [fileURLToPath(import.meta.url), join(here, "tsconfig.json"), join(extDir, "package.json"), join(extDir, "core", "package.json")];
  for (const dir of [join(here, "segment-canvas", "browser"), join(here, "segment-canvas", "common"), join(extDir, "src")]) {
    for (const name of readdirSync(dir, { recursive: true, encoding: "utf8" })) if (name.endsWith(".ts")) files.push(join(dir, name));
  }
  files.push(require.resolve("@jupyter-widgets/base/package.json"), require.resolve("@jupyterlab/builder/package.json"));
  return files;
}

function upToDate() {
  const manifest = JSON.parse(readFileSync(join(extDir, "package.json"), "utf8"));
  const built = join(extDir, manifest.jupyterlab.outputDir, "package.json");
  if (!existsSync(built)) return false;
  const load = JSON.parse(readFileSync(built, "utf8")).jupyterlab?._build?.load;
  if (!load || !existsSync(join(dirname(built), load))) return false;
  const t = statSync(built).mtimeMs;
  return inputs().every((f) => statSync(f).mtimeMs <= t);
}

if (!args.has("--force") && upToDate()) {
  console.log("build:widgets: dist/labextension is up to date (--force rebuilds)");
  process.exit(0);
}

function step(name, fn) {
  const t0 = performance.now();
  fn();
  console.log(`build:widgets: ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

function run(cmd, argv, cwd) {
  const r = spawnSync(cmd, argv, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? "");
    process.stderr.write(r.stderr ?? "");
    console.error(`build:widgets: ${relative(root, argv[0] ?? cmd)} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  return r.stdout;
}

if (!args.has("--no-typecheck")) {
  step("type-checked the browser code", () => run(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(here, "tsconfig.json")], root));
}

step("bundled the view with esbuild", () => {
  const esbuild = require("esbuild");
  esbuild.buildSync({
    entryPoints: [join(extDir, "src", "index.ts")],
    outfile: join(extDir, "lib", "index.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    external: ["@jupyter-widgets/base"],
    logLevel: "warning",
    legalComments: "none",
  });
});

const mode = args.has("--development") ? ["--development"] : [];
step(`packed the labextension (${mode.length ? "development" : "production"})`, () => {
  const builder = require.resolve("@jupyterlab/builder/lib/build-labextension.js");
  run(process.execPath, [builder, ...mode, "--core-path", join(extDir, "core"), extDir], extDir);
});

const manifest = JSON.parse(readFileSync(join(extDir, "package.json"), "utf8"));
const outDir = join(extDir, manifest.jupyterlab.outputDir);
const built = JSON.parse(readFileSync(join(outDir, "package.json"), "utf8"));
const load = built.jupyterlab?._build?.load;
if (!load || !existsSync(join(outDir, load))) {
  console.error(`build:widgets: ${join(outDir, "package.json")} does not point to a built remote entry (jupyterlab._build.load = ${load})`);
  process.exit(1);
}
console.log(`build:widgets: ${built.name} ${built.version} -> ${relative(root, outDir)} (${load})`);
