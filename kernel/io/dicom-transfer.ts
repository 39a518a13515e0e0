/**
 * DICOM transfer syntaxes: which ones we read, and a named refusal for the rest.
 *
 * Uncompressed syntaxes (and deflate, which is lossless zlib over the whole dataset) are read
 * directly; JPEG, JPEG Lossless, JPEG-LS, JPEG 2000, HTJ2K and RLE pixel data are decoded by
 * dicom-codecs.ts. Video syntaxes (MPEG, H.264/5) and unknown ones are refused with the
 * syntax's name and the usual conversion command.
 */

export interface TransferSyntax {
  readonly uid: string;
  readonly name: string;
  /** Pixel data we decode. */
  readonly supported: boolean;
  /** Pixel data encapsulated in compressed fragments (decoded by dicom-codecs.ts). */
  readonly compressed: boolean;
  readonly littleEndian: boolean;
}

const KNOWN: readonly TransferSyntax[] = [
  { uid: "1.2.840.10008.1.2", name: "Implicit VR Little Endian", supported: true, compressed: false, littleEndian: true },
  { uid: "1.2.840.10008.1.2.1", name: "Explicit VR Little Endian", supported: true, compressed: false, littleEndian: true },
  { uid: "1.2.840.10008.1.2.1.99", name: "Deflated Explicit VR Little Endian", supported: true, compressed: false, littleEndian: true },
  { uid: "1.2.840.10008.1.2.2", name: "Explicit VR Big Endian (retired)", supported: true, compressed: false, littleEndian: false },
  { uid: "1.2.840.10008.1.2.4.50", name: "JPEG Baseline (Process 1)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.51", name: "JPEG Extended (Process 2 & 4)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.57", name: "JPEG Lossless, Non-Hierarchical (Process 14)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.70", name: "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.80", name: "JPEG-LS Lossless", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.81", name: "JPEG-LS Lossy (Near-Lossless)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.90", name: "JPEG 2000 Image Compression (Lossless Only)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.91", name: "JPEG 2000 Image Compression", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.201", name: "High-Throughput JPEG 2000 (Lossless Only)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.202", name: "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.203", name: "High-Throughput JPEG 2000", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.5", name: "RLE Lossless", supported: true, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.100", name: "MPEG2 Main Profile @ Main Level", supported: false, compressed: true, littleEndian: true },
  { uid: "1.2.840.10008.1.2.4.102", name: "MPEG-4 AVC/H.264 High Profile", supported: false, compressed: true, littleEndian: true },
];

export function transferSyntax(uid: string): TransferSyntax {
  const clean = uid.replace(/\0/g, "").trim();
  return KNOWN.find((t) => t.uid === clean) ?? { uid: clean, name: `unknown transfer syntax`, supported: false, compressed: false, littleEndian: true };
}

/** Throws "not supported: <syntax>" for anything whose pixel data we cannot decode. */
export function requireSupported(ts: TransferSyntax, where: string): void {
  if (ts.supported) return;
  throw new Error(
    `${where}: not supported: ${ts.name} (${ts.uid}). Video and unknown transfer syntaxes are not decoded here; ` +
      `convert the series to an uncompressed transfer syntax first (e.g. \`gdcmconv --raw in.dcm out.dcm\` or ` +
      `\`dcmdjpeg in.dcm out.dcm\`), or to NIfTI with dcm2niix`,
  );
}
