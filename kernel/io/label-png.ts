/** 16-bit gray PNG label maps (up to 65535 labels), through sharp. */
import sharp from "sharp";

export async function writeLabelPng16(path: string, labels: Uint16Array, width: number, height: number): Promise<void> {
  if (labels.length !== width * height) throw new Error(`label map has ${labels.length} pixels; ${width}x${height} needs ${width * height}.`);
  // sharp takes the sample depth from the typed array (Uint16Array -> 16 bit).
  await sharp(labels, { raw: { width, height, channels: 1 } }).toColourspace("grey16").png().toFile(path);
}
