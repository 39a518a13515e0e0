/** packageRoot: the one walk up to this package's package.json, used by the CLI, the registry and bench. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PACKAGE_NAME, packageRoot } from "../kernel/package-root.js";

const tmp = mkdtempSync(join(tmpdir(), "package-root-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("packageRoot", () => {
  it("finds the repository from its own sources", () => {
    expect(packageRoot()).toBe(join(import.meta.dirname, ".."));
  });

  it("skips other packages' and unreadable package.json files on the way up", () => {
    const root = join(tmp, "ours");
    const inner = join(root, "node_modules", "other", "broken", "deep");
    mkdirSync(inner, { recursive: true });
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: PACKAGE_NAME }));
    writeFileSync(join(root, "node_modules", "other", "package.json"), JSON.stringify({ name: "other" }));
    writeFileSync(join(root, "node_modules", "other", "broken", "package.json"), "{ not json");
    expect(packageRoot(inner)).toBe(root);
  });

  it("says so when there is no package.json of ours above", () => {
    const lone = join(tmp, "lone");
    mkdirSync(lone, { recursive: true });
    expect(() => packageRoot(lone)).toThrow(/cannot find the medicosam-notebook package.json above/);
  });
});
