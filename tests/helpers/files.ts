/** Files under a folder, for tests that check what a run left on disk (stores, results). */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Every file under `root`, recursively (none if it does not exist). */
export function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** The embedding chunks (float16 slices) of a cohort store. */
export const embeddingChunks = (store: string): string[] => filesUnder(join(store, "embeddings")).filter((f) => f.endsWith(".f16"));
