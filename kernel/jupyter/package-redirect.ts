/**
 * Lets a notebook in any folder `import ... from "<our package>"` without an `npm install`
 * beside it: the import resolves to the package the kernel itself runs from.
 *
 * Two resolvers have to agree:
 * - tslab's compiler (for types): it asks `ts.sys` of its bundled TypeScript for
 *   `<cwd>/node_modules/<name>/...`; we answer from the package folder, and `realpath` maps the
 *   files to their real location so their own imports (onnxruntime-node, ...) resolve there.
 *   tslab does the same trick for `import "tslab"` (forwardTslabPath).
 * - Node at run time: `Module._resolveFilename` maps `<name>` and `<name>/sub/path` to files in
 *   the package folder. Cells are CommonJS and our package is ESM, so the kernel runs Node with
 *   `--experimental-require-module` (Node >= 20.17) to `require()` it.
 *
 * The redirect always wins over a copy installed beside the notebook: the kernel and the library
 * must be the same version (widgets, the runtime handle), and one rule is easier to explain.
 */
import { existsSync, readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  name: string;
  root: string;
  /** The `main` entry, relative to root. */
  main: string;
}

/** The package that contains this file (walking up to its package.json). */
export function ownPackage(from: string = fileURLToPath(import.meta.url)): PackageInfo {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const json = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; main?: string };
      if (json.name) return { name: json.name, root: dir, main: json.main ?? "index.js" };
    }
    if (dirname(dir) === dir) throw new Error(`no package.json with a name above ${from}`);
  }
}

/** `<name>` -> main, `<name>/x/y.js` -> `<root>/x/y.js`; anything else -> undefined. */
export function redirectSpecifier(pkg: PackageInfo, specifier: string): string | undefined {
  if (specifier === pkg.name) return join(pkg.root, pkg.main);
  if (specifier.startsWith(`${pkg.name}/`)) return join(pkg.root, specifier.slice(pkg.name.length + 1));
  return undefined;
}

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

let runtimeInstalled = false;

/** Node side: `require("<name>...")` from cells (and their local .ts helpers) finds our package. */
export function installRuntimeRedirect(pkg: PackageInfo): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const mod = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = mod._resolveFilename;
  mod._resolveFilename = function (request, parent, isMain, options) {
    const target = redirectSpecifier(pkg, request);
    return original.call(this, target ?? request, parent, isMain, options);
  };
}

interface TsSys {
  fileExists(path: string): boolean;
  readFile(path: string, encoding?: string): string | undefined;
  directoryExists(path: string): boolean;
  getDirectories(path: string): string[];
  readDirectory(path: string, ...rest: unknown[]): string[];
  realpath?(path: string): string;
}

/**
 * Compiler side. Must run before tslab creates its converter: the compiler host binds
 * `realpath` once, when it is created.
 */
export function installCompilerRedirect(pkg: PackageInfo, cwd: string): void {
  const tslabRequire = createRequire(createRequire(import.meta.url).resolve("tslab/package.json"));
  const sys = (tslabRequire("@tslab/typescript-for-tslab") as { sys: TsSys }).sys;
  const norm = (p: string) => p.split(sep).join("/");
  const virtualRoot = norm(join(resolve(cwd), "node_modules", pkg.name));
  const realRoot = norm(pkg.root);
  const map = (path: string): string => {
    const p = norm(path);
    if (p === virtualRoot) return realRoot;
    if (p.startsWith(`${virtualRoot}/`)) return realRoot + p.slice(virtualRoot.length);
    return path;
  };
  const fileExists = sys.fileExists.bind(sys);
  const readFile = sys.readFile.bind(sys);
  const directoryExists = sys.directoryExists.bind(sys);
  const getDirectories = sys.getDirectories.bind(sys);
  const readDirectory = sys.readDirectory.bind(sys);
  const realpath = sys.realpath?.bind(sys);
  sys.fileExists = (p) => fileExists(map(p));
  sys.readFile = (p, e) => readFile(map(p), e);
  sys.directoryExists = (p) => directoryExists(map(p));
  sys.getDirectories = (p) => getDirectories(map(p));
  sys.readDirectory = (p, ...rest) => readDirectory(map(p), ...rest);
  sys.realpath = (p) => {
    const mapped = map(p);
    return realpath ? realpath(mapped) : mapped;
  };
}
