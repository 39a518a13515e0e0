/** `--user | --sys-prefix | --prefix DIR`, shared by `medicosam install` and `uninstall`. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { InstallScope } from "./paths.js";

export class ScopeUsageError extends Error {
  override name = "ScopeUsageError";
}

export const SCOPE_USAGE = `where (one of; default --user):
  --user              the per-user Jupyter data dir (JUPYTER_DATA_DIR, else ~/.local/share/jupyter)
  --sys-prefix        the active conda env or virtualenv (<prefix>/share/jupyter)
  --prefix DIR        DIR/share/jupyter`;

export type ScopeValues = { user?: boolean; "sys-prefix"?: boolean; prefix?: string; help?: boolean } & {
  [option: string]: string | boolean | undefined;
};

export function parseScopeArgs(
  args: string[],
  extra: Record<string, { type: "string" | "boolean" }> = {},
): { scope: InstallScope; values: ScopeValues } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        user: { type: "boolean" },
        "sys-prefix": { type: "boolean" },
        prefix: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...extra,
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new ScopeUsageError((err as Error).message);
  }
  const values = parsed.values as ScopeValues;
  const chosen = [values.user && "--user", values["sys-prefix"] && "--sys-prefix", values.prefix !== undefined && "--prefix"].filter(Boolean);
  if (chosen.length > 1) throw new ScopeUsageError(`choose one of ${chosen.join(", ")}.`);
  if (values.prefix === "") throw new ScopeUsageError("--prefix needs a folder.");
  const scope: InstallScope = values["sys-prefix"]
    ? { kind: "sys-prefix" }
    : typeof values.prefix === "string"
      ? { kind: "prefix", dir: resolve(values.prefix) }
      : { kind: "user" };
  return { scope, values };
}
