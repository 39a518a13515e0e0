/**
 * Jupyter's data folders, found without Python. Jupyter looks for kernels in
 * `<data dir>/kernels/` and prebuilt JupyterLab extensions in `<data dir>/labextensions/`; the
 * rules below are those of jupyter_core (`jupyter --paths`) for the three install scopes that
 * `jupyter kernelspec install` offers.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export type InstallScope = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };

export interface Environment {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  home: string;
}

const current: Environment = { env: process.env, platform: process.platform, home: homedir() };

/** The per-user data dir: JUPYTER_DATA_DIR, else the platform's user data folder. */
export function userDataDir({ env, platform, home }: Environment = current): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (platform === "win32") return join(env.APPDATA || join(home, "AppData", "Roaming"), "jupyter");
  if (platform === "darwin") return join(home, "Library", "Jupyter");
  return join(env.XDG_DATA_HOME || join(home, ".local", "share"), "jupyter");
}

/**
 * `sys.prefix` of the active environment, as far as Node can tell: a conda env or a virtualenv
 * announce themselves through CONDA_PREFIX / VIRTUAL_ENV.
 */
export function sysPrefix({ env }: Environment = current): string {
  const prefix = env.CONDA_PREFIX || env.VIRTUAL_ENV;
  if (!prefix) {
    throw new Error(
      "--sys-prefix needs an active conda environment or virtualenv (CONDA_PREFIX or VIRTUAL_ENV is not set): " +
        "activate it (e.g. `conda activate medicosam`), or use --prefix DIR or --user.",
    );
  }
  return prefix;
}

export function dataDir(scope: InstallScope, environment: Environment = current): string {
  switch (scope.kind) {
    case "user":
      return userDataDir(environment);
    case "sys-prefix":
      return join(sysPrefix(environment), "share", "jupyter");
    case "prefix":
      return join(scope.dir, "share", "jupyter");
  }
}
