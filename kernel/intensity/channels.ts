/**
 * micro_sam's rule for turning any channel count into the 3 channels SAM takes (docs/inference.md
 * §3, step 1): gray (1 channel) is replicated; 2 channels get a zero third
 * channel; 3 pass; more than 3 keep the first 3.
 */

/** Sentinel source index: this output channel is all zeros. */
export const ZERO_CHANNEL = -1;

/**
 * For each of the 3 output channels, the input channel it copies, or ZERO_CHANNEL.
 * Normalisation then runs on the output channels, as micro_sam >= 1.7 converts to 3 channels
 * before normalising per channel.
 */
export function channelSources(channels: number): readonly [number, number, number] {
  if (!(Number.isInteger(channels) && channels >= 1)) {
    throw new Error(`image has ${channels} channels; expected a positive integer (1 = gray, 3 = RGB).`);
  }
  if (channels === 1) return [0, 0, 0];
  if (channels === 2) return [0, 1, ZERO_CHANNEL];
  return [0, 1, 2];
}

/** The distinct real input channels that feed the output, in order. */
export function keptChannels(channels: number): number[] {
  return [...new Set(channelSources(channels).filter((c) => c !== ZERO_CHANNEL))];
}
