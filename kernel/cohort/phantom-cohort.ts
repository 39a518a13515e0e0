/**
 * A small synthetic cohort: phantom CT/MR volumes (kernel/phantom) with their label maps as
 * NIfTI files, and a CSV manifest listing them. For the tests and the benchmark, which need a
 * dataset that exists on every machine.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatePhantomVolume, writePhantomNifti } from "../phantom/index.js";

export interface CohortFixture {
  readonly dir: string;
  readonly manifest: string;
  readonly ids: readonly string[];
}

/** `count` phantom volumes (alternately CT and MR, seeds 1..count) of width x height x depth voxels. */
export async function writePhantomCohort(dir: string, options: { count?: number; width?: number; height?: number; depth?: number } = {}): Promise<CohortFixture> {
  const count = options.count ?? 4;
  mkdirSync(join(dir, "volumes"), { recursive: true });
  const ids: string[] = [];
  const lines = ["id,image,labels,dataset"];
  for (let k = 0; k < count; k++) {
    const modality = k % 2 === 0 ? "ct" : "mr";
    const id = `${modality}-${String(k + 1).padStart(2, "0")}`;
    const volume = generatePhantomVolume({ seed: k + 1, modality, width: options.width ?? 96, height: options.height ?? 80, depth: options.depth ?? 10 });
    await writePhantomNifti(volume, join(dir, "volumes", `${id}.nii.gz`), join(dir, "volumes", `${id}-labels.nii.gz`));
    ids.push(id);
    lines.push(`${id},volumes/${id}.nii.gz,volumes/${id}-labels.nii.gz,phantom-${modality}`);
  }
  const manifest = join(dir, "cohort.csv");
  writeFileSync(manifest, `${lines.join("\n")}\n`);
  return { dir, manifest, ids };
}
