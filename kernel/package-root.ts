/**
 * The folder of this package: models/, data/ and the built dist/ are found from it. One walk up
 * from the calling module's folder to the package.json named "medicosam-notebook", so that the
 * same code finds the root when it runs from the TypeScript sources (tsx, vitest) and from dist/.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_NAME = "medicosam-notebook";

/** The nearest folder at or above `from` (default: this module's folder) with our package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json further down is not ours; keep looking
      }
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package.json above ${from}`);
  }
}
