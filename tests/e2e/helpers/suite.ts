/**
 * What every e2e suite needs before it can run: Chromium, Debian's jupyter_server and
 * jupyterlab_server, the built test host, and our built package (dist/ + dist/labextension).
 * `available` is false with a reason when something is missing; the suites pass the reason to
 * canRun (a visible skip locally, a failure in CI).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CHROMIUM } from "../../../widgets/harness/driver.js";
import { PYTHON, REPO } from "../../../widgets/harness/jupyter-server.js";
import { spawnSync } from "node:child_process";
import { findHost, type BuiltHost } from "./host.js";

export function e2ePrerequisites(): { host: BuiltHost | null; reason: string } {
  if (!existsSync(CHROMIUM)) return { host: null, reason: "the e2e tests need Debian's chromium (apt-get install chromium)" };
  const py = spawnSync(PYTHON, ["-c", "import jupyter_server, jupyterlab_server"], { stdio: "ignore" });
  if (py.status !== 0) return { host: null, reason: "the e2e tests need python3-jupyter-server and python3-jupyterlab-server (see .ci/apt-packages.txt)" };
  if (!existsSync(join(REPO, "dist", "labextension", "package.json"))) return { host: null, reason: "dist/labextension is missing: run `npm run build`" };
  const host = findHost();
  if ("missing" in host) return { host: null, reason: host.missing };
  return { host, reason: "" };
}
