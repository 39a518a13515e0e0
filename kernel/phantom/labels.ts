/**
 * The label ids of the phantoms' label maps. One id per kind of structure; paired organs
 * (kidneys, lungs) share an id and are told apart as connected components, as the paper's
 * protocol does with real label maps.
 */
export const PHANTOM_LABELS = {
  liver: 1,
  spleen: 2,
  kidney: 3,
  aorta: 4,
  spine: 5,
  stomach: 6,
  lesion: 7,
  lung: 8,
  psoas: 9,
} as const;

export type PhantomLabelName = keyof typeof PHANTOM_LABELS;

/** id -> name, with 0 = background, for tables and legends. */
export const PHANTOM_LABEL_NAMES: readonly string[] = (() => {
  const names: string[] = ["background"];
  for (const [name, id] of Object.entries(PHANTOM_LABELS)) names[id] = name;
  return names;
})();
