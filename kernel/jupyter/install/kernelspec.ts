/**
 * Installs and removes the kernel: the kernelspec (kernel.json + logos) and the widgets'
 * prebuilt JupyterLab extension, both in one Jupyter data dir so a `--prefix` or `--sys-prefix`
 * install stays self-contained.
 *
 * The kernelspec runs the compiled entry of THIS package with THIS node, both by absolute path:
 * Jupyter starts kernels without the user's shell PATH, and the kernel must be the package the
 * notebooks import.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logoPng, LOGO_SVG } from "./logo.js";

export const KERNEL_NAME = "medicosam";
export const DISPLAY_NAME = "MedicoSAM (TypeScript)";
/** Where the widget work builds the labextension's package (its package.json names the output). */
export const LABEXTENSION_PACKAGE_DIR = join("widgets", "labextension");

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env: Record<string, string>;
  metadata: { debugger: boolean; medicosam: { package_root: string; labextension: string | null } };
}

/**
 * Node flags the kernel needs. Cells are compiled to CommonJS and `require()` our ES module
 * package: built in from Node 20.19, behind a flag from 20.17, impossible before.
 */
export function nodeFlags(nodeVersion: string = process.versions.node): string[] {
  const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19)) return [];
  // The warning would otherwise land in the output of the first cell that imports the package.
  if ((major === 20 && minor >= 17) || major === 22) return ["--experimental-require-module", "--disable-warning=ExperimentalWarning"];
  throw new Error(
    `Node ${nodeVersion} cannot load this package from notebook cells (require of an ES module): use Node >= 20.19 (or 20.17 with a flag).`,
  );
}

export function kernelSpec(packageRoot: string, labextension: string | null, nodePath = process.execPath): KernelSpec {
  return {
    argv: [nodePath, ...nodeFlags(), join(packageRoot, "dist", "kernel", "jupyter", "main.js"), "--connection-file", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
    env: {},
    metadata: { debugger: false, medicosam: { package_root: packageRoot, labextension } },
  };
}

export interface BuiltLabextension {
  /** The npm name, which is also the folder name under labextensions/. */
  name: string;
  dir: string;
}

/**
 * The built labextension of `packageRoot`, or why there is none. The widget package's
 * package.json says where `build-labextension` writes (`jupyterlab.outputDir`, default
 * "labextension"); a finished build has its own package.json there.
 */
export function findLabextension(packageRoot: string, override?: string): BuiltLabextension | { missing: string } {
  let dir: string;
  if (override) {
    dir = override;
  } else {
    const source = join(packageRoot, LABEXTENSION_PACKAGE_DIR);
    const manifest = join(source, "package.json");
    if (!existsSync(manifest)) return { missing: `no widgets labextension package at ${source} yet` };
    const json = JSON.parse(readFileSync(manifest, "utf8")) as { jupyterlab?: { outputDir?: string } };
    dir = join(source, json.jupyterlab?.outputDir ?? "labextension");
  }
  const built = join(dir, "package.json");
  if (!existsSync(built)) return { missing: `the widgets labextension has not been built yet (${built} is missing)` };
  const { name } = JSON.parse(readFileSync(built, "utf8")) as { name?: string };
  if (!name) return { missing: `${built} has no name` };
  if (!existsSync(join(dir, "static"))) return { missing: `${dir} has no static/ folder: the build is incomplete` };
  return { name, dir };
}

export interface InstallResult {
  kernelDir: string;
  labextension: { installedAt: string; name: string } | { missing: string };
}

export async function install(dataDir: string, packageRoot: string, labextensionOverride?: string): Promise<InstallResult> {
  const kernelDir = join(dataDir, "kernels", KERNEL_NAME);
  const found = findLabextension(packageRoot, labextensionOverride);
  let labextension: InstallResult["labextension"];
  if ("missing" in found) {
    labextension = found;
  } else {
    const target = join(dataDir, "labextensions", found.name);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(join(target, ".."), { recursive: true });
    cpSync(found.dir, target, { recursive: true });
    labextension = { installedAt: target, name: found.name };
  }
  rmSync(kernelDir, { recursive: true, force: true });
  mkdirSync(kernelDir, { recursive: true });
  const spec = kernelSpec(packageRoot, "name" in labextension ? labextension.name : null);
  writeFileSync(join(kernelDir, "kernel.json"), `${JSON.stringify(spec, null, 2)}\n`);
  writeFileSync(join(kernelDir, "logo-svg.svg"), LOGO_SVG);
  writeFileSync(join(kernelDir, "logo-32x32.png"), await logoPng(32));
  writeFileSync(join(kernelDir, "logo-64x64.png"), await logoPng(64));
  return { kernelDir, labextension };
}

/** Removes what `install` wrote to `dataDir`; returns the folders removed. */
export function uninstall(dataDir: string): string[] {
  const kernelDir = join(dataDir, "kernels", KERNEL_NAME);
  const specFile = join(kernelDir, "kernel.json");
  if (!existsSync(specFile)) return [];
  const removed: string[] = [];
  const spec = JSON.parse(readFileSync(specFile, "utf8")) as Partial<KernelSpec>;
  const labextension = spec.metadata?.medicosam?.labextension;
  if (labextension) {
    const target = join(dataDir, "labextensions", labextension);
    if (existsSync(target)) {
      rmSync(target, { recursive: true, force: true });
      removed.push(target);
    }
  }
  rmSync(kernelDir, { recursive: true, force: true });
  removed.push(kernelDir);
  return removed;
}
