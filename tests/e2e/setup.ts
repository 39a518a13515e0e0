/**
 * `npm run e2e:setup`: builds the JupyterLab 4 test host and the widget manager's prebuilt
 * extension into the cache folder of helpers/host.ts, or does nothing when that build exists.
 * The e2e tests never install anything (no network in tests); they find this build or skip.
 *
 * Steps, in a temporary folder next to the final one:
 *   1. copy tests/e2e/lab-host there and `npm ci` it (its own lockfile; the root project's
 *      node_modules are never touched);
 *   2. webpack the host (static/ bundle, schemas/, themes/);
 *   3. build `@jupyter-widgets/jupyterlab-manager` from its npm package into a prebuilt
 *      (federated) extension with `build-labextension --core-path <host>`, from a copy of the
 *      package with `jupyterlab.outputDir` pointing at labextensions/. The copy is its own
 *      folder and its own working directory: webpack names the chunk-loading global after the
 *      package.json of the working directory, and two extensions sharing one global corrupt
 *      each other's module tables in production builds (tests/e2e/README.md, "How the host is built");
 *   4. copy the server, template and settings overrides beside the build, write build.json, drop
 *      node_modules (about 400 MB; only the build output is used at test time) and rename the
 *      folder to its key. Older keys in the cache folder are removed.
 *
 * Production build: it is what users run, and it is the mode in which module-id collisions
 * between federated bundles show up (development builds hide them). It takes about 2 min and
 * 2.7 GB of memory on 2 cores, which fits CI's budget; `--development` (about 15 s, 0.5 GB) is
 * there for machines that cannot afford it and is recorded in build.json.
 *
 *   npx tsx tests/e2e/setup.ts [--development] [--force]
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { cacheRoot, HOST_SRC, hostDir, hostKey, type HostBuildInfo } from "./helpers/host.js";

const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (a !== "--development" && a !== "--force") {
    console.error(`e2e:setup: unknown option ${a} (use --development, --force)`);
    process.exit(2);
  }
}
const mode: HostBuildInfo["mode"] = args.has("--development") ? "development" : "production";
const key = hostKey();
const final = hostDir(key);

if (existsSync(join(final, "build.json")) && !args.has("--force")) {
  const info = JSON.parse(readFileSync(join(final, "build.json"), "utf8")) as HostBuildInfo;
  console.log(`e2e:setup: the JupyterLab test host is built (${info.mode}, ${final}); nothing to do (--force rebuilds)`);
  process.exit(0);
}

function run(what: string, cmd: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? "");
    process.stderr.write(r.stderr ?? "");
    console.error(`e2e:setup: ${what} failed (exit ${r.status ?? r.signal}) in ${cwd}`);
    process.exit(1);
  }
  console.log(`e2e:setup: ${what} (${seconds.toFixed(1)} s)`);
  return seconds;
}

const root = cacheRoot();
mkdirSync(root, { recursive: true });
const work = join(root, `${key}.partial-${process.pid}`);
rmSync(work, { recursive: true, force: true });
const src = join(work, "src");
const out = join(work, "out");
cpSync(HOST_SRC, src, { recursive: true, filter: (from) => !/[/\\](node_modules|build|prebuilt)$/.test(from) });

const npmCi = run("npm ci (lab-host)", "npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], src);

const host = run(`webpack of the host (${mode})`, process.execPath, ["build.js", ...(mode === "development" ? ["--development"] : [])], src, {
  ...process.env,
  LAB_HOST_OUT: out,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=4096`.trim(),
});

const managerName = "@jupyter-widgets/jupyterlab-manager";
const managerCopy = join(src, "prebuilt", "jupyterlab-manager");
cpSync(join(src, "node_modules", managerName), managerCopy, { recursive: true, dereference: true });
const managerJson = join(managerCopy, "package.json");
const managerPkg = JSON.parse(readFileSync(managerJson, "utf8")) as { version: string; jupyterlab: { outputDir?: string } };
managerPkg.jupyterlab.outputDir = relative(managerCopy, join(out, "labextensions", managerName));
writeFileSync(managerJson, JSON.stringify(managerPkg, null, 2));
const builder = join(src, "node_modules", "@jupyterlab", "builder", "lib", "build-labextension.js");
const manager = run(
  `build-labextension ${managerName} (${mode})`,
  process.execPath,
  [builder, ...(mode === "development" ? ["--development"] : []), "--core-path", src, managerCopy],
  managerCopy,
);

for (const folder of ["server", "templates", "settings"]) cpSync(join(src, folder), join(out, folder), { recursive: true });
const version = (name: string) => (JSON.parse(readFileSync(join(src, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
const info: HostBuildInfo = {
  key,
  mode,
  builtAt: new Date().toISOString(),
  seconds: { npmCi, host, manager },
  versions: Object.fromEntries(
    ["@jupyterlab/application", "@jupyterlab/notebook", "@jupyterlab/notebook-extension", "@jupyterlab/services", "@jupyterlab/builder", "@lumino/widgets", managerName, "@jupyter-widgets/base", "webpack"].map((n) => [n, version(n)]),
  ),
};
writeFileSync(join(out, "build.json"), `${JSON.stringify(info, null, 2)}\n`);

rmSync(final, { recursive: true, force: true });
renameSync(out, final);
rmSync(work, { recursive: true, force: true });
for (const name of readdirSync(root)) {
  // Older builds (other keys), and partial folders of runs that died over an hour ago.
  const abandoned = name.includes(".partial-") && Date.now() - statSync(join(root, name)).mtimeMs > 3600_000;
  const stale = name !== key && (/^[0-9a-f]{16}$/.test(name) || abandoned);
  if (stale) rmSync(join(root, name), { recursive: true, force: true });
}
console.log(`e2e:setup: JupyterLab ${info.versions["@jupyterlab/application"]} test host (${mode}) -> ${final}`);
