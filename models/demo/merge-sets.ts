/**
 * Merges training sets written by training-set.ts (phantoms) and shapes-set.ts (shape scenes)
 * into one folder that train.py's `--data` reads unchanged: index.json plus images.u8,
 * labels.u8, body.u8 (and rgb.u8 where an input has RGB scenes). Pairs of neighbouring slices
 * stay together (their ids are renumbered so that sets never share one), so the mix ratio is
 * set in pairs: `--from DIR:N` takes the first N pairs of DIR (all without `:N`).
 *
 *   npx tsx models/demo/merge-sets.ts --out .cache/demo-mix --from .cache/demo-train --from .cache/demo-shapes-train:1200
 *
 * train.py draws slices (and pairs) uniformly, so the shares of the merged folder are the
 * shares of training steps each generator gets.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

interface Entry {
  readonly width: number;
  readonly height: number;
  readonly pair: number;
  readonly offset: number;
  readonly rgbOffset?: number;
  readonly [key: string]: unknown;
}

export function mergeSets(out: string, sources: readonly { dir: string; pairs?: number }[]): { slices: number; pairs: number } {
  mkdirSync(out, { recursive: true });
  const fds = Object.fromEntries(["images", "labels", "body", "rgb"].map((n) => [n, openSync(join(out, `${n}.u8`), "w")])) as Record<string, number>;
  const merged: Entry[] = [];
  const parts: { dir: string; pairs: number; slices: number }[] = [];
  let offset = 0;
  let rgbOffset = 0;
  let pairBase = 0;
  for (const src of sources) {
    const index = JSON.parse(readFileSync(join(src.dir, "index.json"), "utf8")) as { slices: Entry[] };
    const ins = Object.fromEntries(["images", "labels", "body"].map((n) => [n, openSync(join(src.dir, `${n}.u8`), "r")])) as Record<string, number>;
    const rgbIn = existsSync(join(src.dir, "rgb.u8")) ? openSync(join(src.dir, "rgb.u8"), "r") : undefined;
    const order: number[] = [];
    const renumber = new Map<number, number>();
    index.slices.forEach((e, k) => {
      if (!renumber.has(e.pair)) {
        if (src.pairs !== undefined && renumber.size >= src.pairs) return;
        renumber.set(e.pair, pairBase + renumber.size);
      }
      order.push(k);
    });
    for (const k of order) {
      const e = index.slices[k]!;
      const n = e.width * e.height;
      const buf = Buffer.alloc(n);
      for (const name of ["images", "labels", "body"]) {
        readSync(ins[name]!, buf, 0, n, e.offset);
        writeSync(fds[name]!, buf);
      }
      const next: Entry = { ...e, pair: renumber.get(e.pair)!, offset, source: src.dir };
      if (e.rgbOffset !== undefined && rgbIn !== undefined) {
        const rgb = Buffer.alloc(3 * n);
        readSync(rgbIn, rgb, 0, 3 * n, e.rgbOffset);
        writeSync(fds["rgb"]!, rgb);
        (next as { rgbOffset?: number }).rgbOffset = rgbOffset;
        rgbOffset += 3 * n;
      }
      merged.push(next);
      offset += n;
    }
    Object.values(ins).forEach((fd) => closeSync(fd));
    if (rgbIn !== undefined) closeSync(rgbIn);
    parts.push({ dir: src.dir, pairs: renumber.size, slices: order.length });
    pairBase += renumber.size;
  }
  Object.values(fds).forEach((fd) => closeSync(fd));
  writeFileSync(join(out, "index.json"), JSON.stringify({ merged: parts, slices: merged }));
  return { slices: merged.length, pairs: pairBase };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const out = argv[argv.indexOf("--out") + 1];
  if (!argv.includes("--out") || !out) throw new Error("give --out DIR and one --from DIR[:PAIRS] per input set");
  const sources = argv.flatMap((a, i) => (a === "--from" ? [argv[i + 1]!] : [])).map((s) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(s)!;
    return { dir: m[1]!, ...(m[2] ? { pairs: Number(m[2]) } : {}) };
  });
  const r = mergeSets(out, sources);
  console.log(`wrote ${r.slices} slices (${r.pairs} pairs) to ${out}`);
}
