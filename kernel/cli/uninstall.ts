/** `medicosam uninstall`: remove what `medicosam install` wrote (kernelspec and labextension). */
import { DISPLAY_NAME, uninstall } from "../jupyter/install/kernelspec.js";
import { dataDir } from "../jupyter/install/paths.js";
import { parseScopeArgs, SCOPE_USAGE, ScopeUsageError } from "../jupyter/install/scope-args.js";

export const USAGE = `usage: medicosam uninstall [--user | --sys-prefix | --prefix DIR]

Removes the kernel "${DISPLAY_NAME}" and the widgets labextension installed with it from
the chosen Jupyter data dir (the same option as given to \`medicosam install\`).

${SCOPE_USAGE}`;

export async function run(args: string[]): Promise<number> {
  try {
    const { scope, values } = parseScopeArgs(args);
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const target = dataDir(scope);
    const removed = uninstall(target);
    if (removed.length === 0) {
      console.log(`Nothing to remove: the kernel is not installed in ${target}.`);
    } else {
      for (const path of removed) console.log(`Removed ${path}`);
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
