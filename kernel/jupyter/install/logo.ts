/**
 * The kernel's logo in the launcher: a scan slice with a segmented organ and the click that
 * prompted it. Shapes only (no text), so rasterising needs no fonts.
 */
import sharp from "sharp";

export const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <rect x="2" y="2" width="60" height="60" rx="12" fill="#1f3a5f"/>
  <ellipse cx="32" cy="33" rx="24" ry="21" fill="#c9d3df"/>
  <ellipse cx="32" cy="33" rx="19" ry="16" fill="#8d9bab"/>
  <path d="M21 30 C21 22 30 19 36 22 C43 25 45 32 41 38 C37 44 27 44 23 39 C21 36 21 33 21 30 Z"
        fill="#ff8c3a" fill-opacity="0.8" stroke="#ffffff" stroke-width="2"/>
  <circle cx="33" cy="31" r="3.5" fill="#2ecc71" stroke="#ffffff" stroke-width="1.5"/>
</svg>
`;

/** PNG of the logo at `size` x `size` pixels. */
export function logoPng(size: number): Promise<Buffer> {
  return sharp(Buffer.from(LOGO_SVG)).resize(size, size).png().toBuffer();
}
