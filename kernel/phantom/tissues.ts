/**
 * Tissues and their intensities. Geometry (anatomy.ts) says which tissue is where; this
 * table says what a scanner would show. CT values are Hounsfield units as found in
 * abdominal CT (native and portal-venous phase); MR values are arbitrary scanner units
 * for T1- and T2-weighted contrast, scaled per volume like a real scanner's would be.
 */
export const TISSUES = [
  "air",
  "lung",
  "fat",
  "visceral",
  "muscle",
  "liver",
  "spleen",
  "kidneyCortex",
  "kidneyMedulla",
  "blood",
  "cortBone",
  "cancBone",
  "disc",
  "csf",
  "stomachFluid",
  "gas",
  "lesion",
  "bowel",
] as const;

export type Tissue = (typeof TISSUES)[number];
export const TISSUE_INDEX: Readonly<Record<Tissue, number>> = Object.fromEntries(TISSUES.map((t, i) => [t, i])) as Record<
  Tissue,
  number
>;

export interface TissueLook {
  /** Mean value. */
  readonly value: number;
  /** Amplitude of the smooth texture, in the same units. */
  readonly texture: number;
}

type Table = Readonly<Record<Tissue, readonly [number, number]>>;

/** [value, texture] in HU, no contrast agent. */
const CT_NATIVE: Table = {
  air: [-1000, 4],
  lung: [-850, 40],
  fat: [-100, 10],
  visceral: [-60, 35],
  muscle: [50, 8],
  liver: [62, 8],
  spleen: [48, 6],
  kidneyCortex: [35, 6],
  kidneyMedulla: [25, 6],
  blood: [42, 4],
  cortBone: [850, 90],
  cancBone: [240, 60],
  disc: [85, 10],
  csf: [10, 4],
  stomachFluid: [15, 8],
  gas: [-950, 15],
  lesion: [32, 8],
  bowel: [30, 25],
};

/** Portal-venous phase: contrast agent raises the perfused organs and the vessels. */
const CT_ENHANCED: Table = {
  ...CT_NATIVE,
  liver: [112, 9],
  spleen: [125, 8],
  kidneyCortex: [190, 12],
  kidneyMedulla: [110, 12],
  blood: [170, 6],
  lesion: [45, 9],
  bowel: [60, 30],
  muscle: [58, 8],
};

/** T1-weighted: fat bright, fluid dark, flowing blood dark, marrow bright. */
const MR_T1: Table = {
  air: [4, 2],
  lung: [25, 10],
  fat: [900, 45],
  visceral: [700, 90],
  muscle: [300, 20],
  liver: [560, 30],
  spleen: [390, 22],
  kidneyCortex: [470, 25],
  kidneyMedulla: [310, 25],
  blood: [90, 20],
  cortBone: [40, 10],
  cancBone: [640, 60],
  disc: [260, 20],
  csf: [140, 15],
  stomachFluid: [160, 20],
  gas: [8, 4],
  lesion: [250, 25],
  bowel: [380, 60],
};

/** T2-weighted: fluid bright, liver dark, spleen and kidneys brighter than liver. */
const MR_T2: Table = {
  air: [4, 2],
  lung: [20, 8],
  fat: [720, 40],
  visceral: [560, 80],
  muscle: [220, 15],
  liver: [300, 20],
  spleen: [560, 30],
  kidneyCortex: [620, 30],
  kidneyMedulla: [760, 35],
  blood: [70, 20],
  cortBone: [30, 8],
  cancBone: [480, 50],
  disc: [700, 40],
  csf: [950, 30],
  stomachFluid: [880, 40],
  gas: [8, 4],
  lesion: [820, 40],
  bowel: [500, 80],
};

export type ContrastName = "ct-native" | "ct-enhanced" | "mr-t1" | "mr-t2";

const TABLES: Readonly<Record<ContrastName, Table>> = {
  "ct-native": CT_NATIVE,
  "ct-enhanced": CT_ENHANCED,
  "mr-t1": MR_T1,
  "mr-t2": MR_T2,
};

/** Looks indexed by TISSUE_INDEX. */
export function tissueLooks(contrast: ContrastName): TissueLook[] {
  const table = TABLES[contrast];
  return TISSUES.map((t) => ({ value: table[t][0], texture: table[t][1] }));
}
