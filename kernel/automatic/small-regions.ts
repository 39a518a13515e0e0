/**
 * segment_anything's `remove_small_regions` (its optional postprocessing, `min_mask_region_area`):
 * fill holes, or drop islands, smaller than an area. SAM labels regions with OpenCV's
 * `connectedComponentsWithStats(mask, 8)`; this is the same 8-connected labelling, with labels
 * in raster order of each region's first pixel.
 */

/** 8-connected components of the nonzero pixels: labels (0 = none) and each label's size. */
export function connectedComponents8(mask: Uint8Array, width: number, height: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(width * height);
  const sizes: number[] = [0];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = sizes.length;
    let size = 0;
    labels[start] = label;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      size++;
      const y = Math.floor(p / width);
      const x = p - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
          const q = yy * width + xx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/**
 * `mode: "holes"`: background regions (8-connected, as OpenCV labels the inverted mask)
 * smaller than `areaThresh` become foreground. `mode: "islands"`: foreground regions smaller
 * than `areaThresh` are removed; if every region is that small, the largest stays. Returns the
 * mask (the input itself when nothing changed) and whether it changed.
 */
export function removeSmallRegions(
  mask: Uint8Array,
  width: number,
  height: number,
  areaThresh: number,
  mode: "holes" | "islands",
): { mask: Uint8Array; changed: boolean } {
  const correctHoles = mode === "holes";
  const working = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) working[i] = (mask[i] ? 1 : 0) ^ (correctHoles ? 1 : 0);
  const { labels, sizes } = connectedComponents8(working, width, height);
  const small = new Set<number>();
  for (let l = 1; l < sizes.length; l++) if (sizes[l]! < areaThresh) small.add(l);
  if (small.size === 0) return { mask, changed: false };
  // The labels that end up foreground.
  const fill = new Uint8Array(sizes.length);
  if (correctHoles) {
    fill[0] = 1; // label 0 of the inverted mask = the mask itself
    for (const l of small) fill[l] = 1;
  } else {
    let any = false;
    for (let l = 1; l < sizes.length; l++) {
      if (!small.has(l)) {
        fill[l] = 1;
        any = true;
      }
    }
    if (!any) {
      let best = 1;
      for (let l = 2; l < sizes.length; l++) if (sizes[l]! > sizes[best]!) best = l;
      fill[best] = 1;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = fill[labels[i]!]!;
  return { mask: out, changed: true };
}
