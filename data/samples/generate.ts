/**
 * Writes the shipped sample volumes: one CT-like and one MR-like synthetic abdomen with their
 * label maps, as NIfTI (.nii.gz), plus labels.json (id -> name). Deterministic: rerunning
 * rewrites the same voxels (`npx tsx data/samples/generate.ts`). Synthetic data from
 * kernel/phantom, not patient images.
 *
 * Seeds 7 and 11 are outside the demo model's training seeds (100000-199999), its
 * validation seeds (300000+) and the quality tests' seeds (500000+).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { generatePhantomVolume, PHANTOM_LABEL_NAMES, writePhantomNifti, type PhantomOptions } from "../../kernel/phantom/index.js";

export const SAMPLES: readonly (PhantomOptions & { readonly name: string })[] = [
  { name: "ct-phantom", seed: 7, modality: "ct", contrast: "ct-enhanced", width: 256, height: 224, depth: 32 },
  { name: "mr-phantom", seed: 11, modality: "mr", contrast: "mr-t1", width: 224, height: 192, depth: 28 },
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = fileURLToPath(new URL(".", import.meta.url));
  for (const s of SAMPLES) {
    const v = generatePhantomVolume(s);
    await writePhantomNifti(v, `${dir}${s.name}.nii.gz`, `${dir}${s.name}-labels.nii.gz`);
    console.log(`wrote data/samples/${s.name}.nii.gz and ${s.name}-labels.nii.gz (${v.dims.join("x")}, ${v.settings.contrast})`);
  }
  const labels = Object.fromEntries(PHANTOM_LABEL_NAMES.map((n, i) => [i, n]));
  writeFileSync(`${dir}labels.json`, JSON.stringify(labels, null, 2) + "\n");
}
