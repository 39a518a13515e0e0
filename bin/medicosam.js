#!/usr/bin/env node
// Entry point of the `medicosam` command: runs the compiled CLI (`npm run build` makes dist/).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const cli = new URL("../dist/kernel/cli.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error("medicosam: dist/ is missing. Run `npm run build` in the package folder first.");
  process.exit(1);
}
await import(cli.href);
