/** `medicosam install`: make the kernel (and the widgets' JupyterLab extension) known to Jupyter. No Python needed. */
import { resolve } from "node:path";
import { DISPLAY_NAME, install, KERNEL_NAME } from "../jupyter/install/kernelspec.js";
import { dataDir } from "../jupyter/install/paths.js";
import { parseScopeArgs, SCOPE_USAGE, ScopeUsageError } from "../jupyter/install/scope-args.js";
import { ownPackage } from "../jupyter/package-redirect.js";

export const USAGE = `usage: medicosam install [--user | --sys-prefix | --prefix DIR] [--labextension DIR]

Writes the Jupyter kernelspec '${KERNEL_NAME}' ("${DISPLAY_NAME}") and copies the widgets'
prebuilt JupyterLab extension into the same Jupyter data dir. Run it again after moving the
package or changing Node: the kernelspec holds their absolute paths.

${SCOPE_USAGE}
options:
  --labextension DIR  install the labextension built in DIR instead of the package's own`;

export async function run(args: string[]): Promise<number> {
  try {
    const { scope, values } = parseScopeArgs(args, { labextension: { type: "string" } });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const target = dataDir(scope);
    const pkg = ownPackage();
    const labextension = typeof values.labextension === "string" ? resolve(values.labextension) : undefined;
    const result = await install(target, pkg.root, labextension);
    console.log(`Installed the kernel "${DISPLAY_NAME}" in ${result.kernelDir}`);
    if ("name" in result.labextension) {
      console.log(`Installed the widgets labextension ${result.labextension.name} in ${result.labextension.installedAt}`);
    } else {
      console.log(
        `No widgets labextension installed: ${result.labextension.missing}. ` +
          "Cells, errors and displays work; widgets will not render until it is built and `medicosam install` is run again.",
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof ScopeUsageError) {
      console.error(`error: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`error: ${(err as Error).message}`);
    return 1;
  }
}
