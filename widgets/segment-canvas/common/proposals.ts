/**
 * Which proposal of the automatic generator a click means: both the view (input.ts) and the
 * kernel's tests use it, so the rule is written once. Proposals overlap (an organ and the part
 * of it SAM also proposed), and the smallest one under the pointer is the one the user can
 * only reach there; a larger one has pixels of its own to click.
 */
import type { WireProposal } from "./state.js";

/**
 * The proposal on slice z whose mask holds pixel (x, y), the smallest by area when several do
 * (ties: the earlier in the list, i.e. SAM's order). `maskOf` gives a proposal's decoded 0/1 slice.
 */
export function proposalAt(
  proposals: readonly WireProposal[],
  z: number,
  x: number,
  y: number,
  width: number,
  maskOf: (p: WireProposal) => ArrayLike<number>,
): WireProposal | undefined {
  const xi = Math.round(x);
  const yi = Math.round(y);
  if (xi < 0 || yi < 0 || xi >= width) return undefined;
  let best: WireProposal | undefined;
  for (const p of proposals) {
    if (p.z !== z) continue;
    const [bx, by, bw, bh] = p.bbox;
    if (xi < bx || yi < by || xi > bx + bw || yi > by + bh) continue;
    if (!maskOf(p)[yi * width + xi]) continue;
    if (!best || p.area < best.area) best = p;
  }
  return best;
}
