/**
 * Where the JupyterLab test host lives once `npm run e2e:setup` built it, shared by the setup
 * script and the tests so both compute the same cache key.
 *
 * The key is a hash of every file of tests/e2e/lab-host (package.json, its lockfile, webpack
 * config, bootstrap, server, template) plus the setup script and Node's major version: change any
 * of them and the next setup builds a new host; change nothing and it does nothing. The folder is
 * `$MEDICOSAM_LAB_HOST_CACHE/<key>` (default `~/.cache/medicosam/lab-host/<key>`), written under a
 * temporary name and renamed when complete, so a folder with the key's name is always whole.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const E2E_DIR = fileURLToPath(new URL("..", import.meta.url));
export const HOST_SRC = join(E2E_DIR, "lab-host");
export const SETUP_SCRIPT = join(E2E_DIR, "setup.ts");
/** Folders of lab-host that are build products, never inputs. */
const NOT_INPUTS = new Set(["node_modules", "build", "prebuilt"]);

export const SETUP_HINT = "run `npm run e2e:setup` (builds the JupyterLab test host once, about 3 min)";

export function cacheRoot(): string {
  return process.env.MEDICOSAM_LAB_HOST_CACHE || join(homedir(), ".cache", "medicosam", "lab-host");
}

function inputFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (NOT_INPUTS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...inputFiles(path));
    else files.push(path);
  }
  return files;
}

export function hostKey(): string {
  const hash = createHash("sha256");
  hash.update(`node ${process.versions.node.split(".")[0]}\n`);
  for (const file of [...inputFiles(HOST_SRC), SETUP_SCRIPT]) {
    hash.update(`${relative(E2E_DIR, file)}\n`);
    hash.update(readFileSync(file));
  }
  return hash.digest("hex").slice(0, 16);
}

/** What setup records next to the build (build.json). */
export interface HostBuildInfo {
  key: string;
  mode: "production" | "development";
  builtAt: string;
  seconds: { npmCi: number; host: number; manager: number };
  versions: Record<string, string>;
}

export interface BuiltHost {
  dir: string;
  info: HostBuildInfo;
  /** Folder holding the prebuilt widget manager (`@jupyter-widgets/jupyterlab-manager`). */
  labextensions: string;
}

export function hostDir(key = hostKey()): string {
  return join(cacheRoot(), key);
}

/**
 * The built host for the current sources, or why there is none. MEDICOSAM_LAB_HOST_DIR names a
 * built host folder to use whatever its key (for working on the host without rebuilding).
 */
export function findHost(): BuiltHost | { missing: string } {
  const dir = process.env.MEDICOSAM_LAB_HOST_DIR || hostDir();
  const info = join(dir, "build.json");
  if (!existsSync(info)) return { missing: `no JupyterLab test host built for the current tests/e2e/lab-host (${dir}): ${SETUP_HINT}` };
  return { dir, info: JSON.parse(readFileSync(info, "utf8")) as HostBuildInfo, labextensions: join(dir, "labextensions") };
}
