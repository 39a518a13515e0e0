/**
 * A label map out as a DICOM Segmentation (SEG, SOP class 1.2.840.10008.5.1.4.1.1.66.4) that
 * references the series it was drawn on, so a PACS or viewer (3D Slicer, OHIF) shows it on
 * that series.
 *
 * The dataset is built here, attribute by attribute, after the Segmentation IOD (PS3.3
 * A.51: binary segmentation, one segment per label, one frame per segment and source slice
 * that holds the label, positions and source images per frame) and encoded by dcmjs (its
 * DicomDict writer). dcmjs's own `derivations.Segmentation` expects cornerstone's image
 * objects; our volumes come from files, so the few dozen attributes are set directly.
 *
 * Frames are matched to source slices by ImagePositionPatient: each reference file's frame
 * position is projected on the volume's slice axis, so slice order and file order never mix.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename } from "node:path";
import dicomParser from "dicom-parser";
import { listFiles, looksLikeDicom, readDicom, type ReadDicomOptions } from "./dicom-series.js";
import { describeDicom, parseDicomBytes } from "./dicom-slice.js";
import { voxelCount, type Volume } from "./volume.js";

export const SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4";
const EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";

export interface DicomSegOptions {
  /** Segment labels by label id: names[0] for label 1. Default "object N". */
  readonly names?: readonly string[];
  /** Display colours (sRGB 0..255) by label id: colors[0] for label 1, cycled. */
  readonly colors?: readonly (readonly [number, number, number])[];
  /** SegmentAlgorithmName; default "MedicoSAM". */
  readonly algorithm?: string;
  readonly seriesDescription?: string;
  /** Which series of a folder holding several (as openVolume's option). */
  readonly series?: ReadDicomOptions["series"];
  /** Write the file here as well as returning its bytes. */
  readonly out?: string;
}

export interface DicomSegResult {
  readonly bytes: Uint8Array;
  readonly sopInstanceUID: string;
  readonly seriesInstanceUID: string;
  /** Label ids written, one segment each (SegmentNumber = label id). */
  readonly segments: readonly number[];
  readonly frames: number;
}

interface SourceFrame {
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  /** 1-based frame number for multi-frame sources. */
  readonly frameNumber?: number;
}

type Naturalized = Record<string, unknown>;
interface Dcmjs {
  data: {
    DicomDict: new (meta: object) => { dict: object; write(): ArrayBuffer };
    DicomMetaDictionary: { denaturalizeDataset(ds: Naturalized): object; uid(): string };
    Colors: { rgb2DICOMLAB(rgb: number[]): number[] };
  };
}

/** Patient/study attributes copied from the reference so the SEG files under the same study. */
const COPIED = {
  PatientName: "x00100010",
  PatientID: "x00100020",
  PatientBirthDate: "x00100030",
  PatientSex: "x00100040",
  StudyInstanceUID: "x0020000d",
  StudyDate: "x00080020",
  StudyTime: "x00080030",
  StudyID: "x00200010",
  AccessionNumber: "x00080050",
  ReferringPhysicianName: "x00080090",
  FrameOfReferenceUID: "x00200052",
} as const;

function code(value: string, scheme: string, meaning: string): Naturalized[] {
  return [{ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning }];
}

const DEFAULT_COLORS: readonly (readonly [number, number, number])[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
];

/**
 * Builds the SEG for `labels` (one value per voxel of the reference volume, i fastest) over
 * the DICOM series at `reference` (a folder or file, or a Volume read from one).
 */
export async function writeDicomSeg(labels: ArrayLike<number>, reference: string | Volume, options: DicomSegOptions = {}): Promise<DicomSegResult> {
  const refPath = typeof reference === "string" ? reference : reference.source.path;
  if (typeof reference !== "string" && reference.source.format !== "dicom") {
    throw new Error(`${reference.source.path}: a DICOM SEG references a DICOM series; this volume was read from ${reference.source.format}`);
  }
  const volume = typeof reference === "string" ? await readDicom(reference, options.series !== undefined ? { series: options.series } : {}) : reference;
  const [nx, ny, nz] = volume.dims;
  const n = voxelCount(volume.dims);
  if (labels.length !== n) throw new Error(`label map has ${labels.length} values but the reference series ${refPath} has ${nx}x${ny}x${nz} = ${n} voxels`);
  const present = new Set<number>();
  for (let i = 0; i < n; i++) {
    const v = labels[i]!;
    if (v !== 0) {
      if (!(v > 0) || !Number.isInteger(v) || v > 65535) throw new Error(`label ${v} at voxel ${i} is not an integer 1..65535 (a SEG segment number)`);
      present.add(v);
    }
  }
  const segments = [...present].sort((a, b) => a - b);
  if (segments.length === 0) throw new Error(`the label map is empty: a DICOM SEG needs at least one labelled voxel`);

  const { frames: sources, study, seriesUID } = await referenceFrames(refPath, volume);
  // dcmjs ships no type declarations; its CommonJS build is loaded on first use
  const dcmjs = createRequire(import.meta.url)("dcmjs") as Dcmjs;
  const { DicomDict, DicomMetaDictionary, Colors } = dcmjs.data;

  // Which slices hold each label.
  const plane = nx * ny;
  const framesOf = new Map<number, number[]>(segments.map((s) => [s, []]));
  for (let k = 0; k < nz; k++) {
    const seen = new Set<number>();
    for (let p = k * plane; p < (k + 1) * plane; p++) if (labels[p]) seen.add(labels[p]!);
    for (const s of seen) framesOf.get(s)!.push(k);
  }
  const frameList = segments.flatMap((s) => framesOf.get(s)!.map((k) => ({ segment: s, k })));

  // Binary pixels, bit-packed across frames, least significant bit first (PS3.5 8.1.1).
  const bits = frameList.length * plane;
  const packed = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
  frameList.forEach(({ segment, k }, f) => {
    const base = f * plane;
    for (let p = 0; p < plane; p++) {
      if (labels[k * plane + p] === segment) {
        const bit = base + p;
        packed[bit >> 3]! |= 1 << (bit & 7);
      }
    }
  });

  // Geometry per slice in DICOM's LPS (the volume's affine is RAS).
  const a = volume.affine;
  const lps = (v: readonly number[]) => [-v[0]!, -v[1]!, v[2]!];
  const position = (k: number) => lps([0, 1, 2].map((r) => a[r]![2]! * k + a[r]![3]!));
  const unit = (c: number) => {
    const v = lps([a[0]![c]!, a[1]![c]!, a[2]![c]!]);
    const len = Math.hypot(...v);
    return v.map((x) => x / len);
  };
  const ds = (x: number) => Number(x.toPrecision(12));
  const rowDir = unit(0);
  const colDir = unit(1);
  const [si, sj, sk] = volume.spacing;

  const seriesInstanceUID = DicomMetaDictionary.uid();
  const sopInstanceUID = DicomMetaDictionary.uid();
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, "");
  const time = now.toISOString().slice(11, 19).replace(/:/g, "");
  const colors = options.colors && options.colors.length ? options.colors : DEFAULT_COLORS;
  const dataset: Naturalized = {
    ...study,
    // Type 1 in the SEG: a reference without one gets a new frame of reference
    FrameOfReferenceUID: study.FrameOfReferenceUID || DicomMetaDictionary.uid(),
    SpecificCharacterSet: "ISO_IR 192",
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: sopInstanceUID,
    Modality: "SEG",
    SeriesInstanceUID: seriesInstanceUID,
    SeriesNumber: "300",
    SeriesDescription: options.seriesDescription ?? "MedicoSAM segmentation",
    InstanceNumber: "1",
    ContentDate: date,
    ContentTime: time,
    SeriesDate: date,
    SeriesTime: time,
    Manufacturer: "medicosam-notebook",
    ManufacturerModelName: "medicosam-notebook",
    DeviceSerialNumber: "1",
    SoftwareVersions: "0.1.0",
    ContentLabel: "SEGMENTATION",
    ContentDescription: "MedicoSAM segmentation",
    ContentCreatorName: "medicosam",
    ImageType: ["DERIVED", "PRIMARY"],
    SegmentationType: "BINARY",
    LossyImageCompression: "00",
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    NumberOfFrames: String(frameList.length),
    SegmentSequence: segments.map((s) => {
      const rgb = colors[(s - 1) % colors.length]!;
      return {
        SegmentNumber: s,
        SegmentLabel: (options.names?.[s - 1] ?? `object ${s}`).slice(0, 64),
        SegmentAlgorithmType: "SEMIAUTOMATIC",
        SegmentAlgorithmName: options.algorithm ?? "MedicoSAM",
        SegmentedPropertyCategoryCodeSequence: code("91723000", "SCT", "Anatomical Structure"),
        SegmentedPropertyTypeCodeSequence: code("85756007", "SCT", "Tissue"),
        RecommendedDisplayCIELabValue: Colors.rgb2DICOMLAB(rgb.map((c) => c / 255)).map((v) => Math.max(0, Math.min(65535, Math.round(v)))),
      };
    }),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: DicomMetaDictionary.uid() }],
    DimensionIndexSequence: [
      { DimensionIndexPointer: "0062000B", FunctionalGroupPointer: "0062000A", DimensionDescriptionLabel: "ReferencedSegmentNumber" },
      { DimensionIndexPointer: "00200032", FunctionalGroupPointer: "00209113", DimensionDescriptionLabel: "ImagePositionPatient" },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [...rowDir, ...colDir].map(ds) }],
        PixelMeasuresSequence: [{ PixelSpacing: [ds(sj), ds(si)], SliceThickness: ds(sk), SpacingBetweenSlices: ds(sk) }],
      },
    ],
    PerFrameFunctionalGroupsSequence: frameList.map(({ segment, k }) => {
      const src = sources[k]!;
      return {
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: src.sopClassUID,
                ReferencedSOPInstanceUID: src.sopInstanceUID,
                ...(src.frameNumber ? { ReferencedFrameNumber: src.frameNumber } : {}),
                PurposeOfReferenceCodeSequence: code("121322", "DCM", "Source image for image processing operation"),
              },
            ],
            DerivationCodeSequence: code("113076", "DCM", "Segmentation"),
          },
        ],
        FrameContentSequence: [{ DimensionIndexValues: [segment, k + 1] }],
        PlanePositionSequence: [{ ImagePositionPatient: position(k).map(ds) }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segment }],
      };
    }),
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: seriesUID,
        ReferencedInstanceSequence: uniqueInstances(sources).map((s) => ({ ReferencedSOPClassUID: s.sopClassUID, ReferencedSOPInstanceUID: s.sopInstanceUID })),
      },
    ],
    PixelData: packed.buffer,
    _vrMap: { PixelData: "OB" },
  };
  const meta: Naturalized = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEGMENTATION_STORAGE,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LE,
    ImplementationClassUID: "1.2.826.0.1.3680043.10.1",
    ImplementationVersionName: "medicosam-0.1",
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  const bytes = new Uint8Array(dict.write());
  if (options.out) await writeFile(options.out, bytes);
  return { bytes, sopInstanceUID, seriesInstanceUID, segments, frames: frameList.length };
}

function uniqueInstances(frames: readonly SourceFrame[]): SourceFrame[] {
  const seen = new Map<string, SourceFrame>();
  for (const f of frames) if (!seen.has(f.sopInstanceUID)) seen.set(f.sopInstanceUID, f);
  return [...seen.values()];
}

/**
 * For each slice k of `volume`: the reference file (and frame) at that position, found by
 * projecting each file frame's ImagePositionPatient on the slice axis; and the study
 * attributes and SeriesInstanceUID to copy.
 */
async function referenceFrames(path: string, volume: Volume): Promise<{ frames: SourceFrame[]; study: Naturalized; seriesUID: string }> {
  const source = volume.source;
  if (source.format !== "dicom" || !source.seriesInstanceUID) throw new Error(`${path}: the reference series has no SeriesInstanceUID (0020,000E)`);
  const seriesUID = source.seriesInstanceUID;
  const files = (await stat(path)).isDirectory() ? await listFiles(path) : [path];
  const a = volume.affine;
  const nz = volume.dims[2];
  const axis = [0, 1, 2].map((r) => a[r]![2]!);
  const origin = [0, 1, 2].map((r) => a[r]![3]!);
  const len2 = axis.reduce((s, v) => s + v * v, 0);
  const frames: (SourceFrame | undefined)[] = new Array(nz);
  let study: Naturalized = {};
  for (const file of files) {
    const bytes = new Uint8Array(await readFile(file));
    if (!looksLikeDicom(bytes)) continue;
    const ds = parseDicomBytes(bytes, file);
    if ((ds.string("x0020000e") ?? "").trim() !== seriesUID) continue;
    const info = describeDicom(ds, file);
    const sopInstanceUID = ds.string("x00080018")?.trim();
    const sopClassUID = ds.string("x00080016")?.trim();
    if (!sopInstanceUID || !sopClassUID) throw new Error(`${file}: SOPInstanceUID/SOPClassUID (0008,0018/0016) missing: the SEG cannot reference it`);
    if (Object.keys(study).length === 0) study = studyAttributes(ds);
    info.frames.forEach((fr, f) => {
      // position in RAS, projected on the slice axis: k = (p - origin) . axis / |axis|^2
      const p = fr.position ? [-fr.position[0], -fr.position[1], fr.position[2]] : origin;
      const k = nz === 1 ? 0 : Math.round((p.reduce((s, v, i) => s + (v - origin[i]!) * axis[i]!, 0) / len2));
      if (k >= 0 && k < nz && !frames[k]) frames[k] = { sopClassUID, sopInstanceUID, ...(info.frames.length > 1 ? { frameNumber: f + 1 } : {}) };
    });
  }
  const missing = frames.findIndex((f) => !f);
  if (missing >= 0 || frames.length !== nz) throw new Error(`${path}: no reference file found for slice ${missing} of ${nz} (${basename(path)})`);
  if (!study.StudyInstanceUID) throw new Error(`${path}: StudyInstanceUID (0020,000D) missing in the reference series`);
  return { frames: frames as SourceFrame[], study, seriesUID };
}

function studyAttributes(ds: dicomParser.DataSet): Naturalized {
  const out: Naturalized = {};
  for (const [name, tag] of Object.entries(COPIED)) {
    const v = ds.string(tag)?.trim();
    out[name] = name === "PatientName" || name === "ReferringPhysicianName" ? (v ? [{ Alphabetic: v }] : "") : (v ?? "");
  }
  return out;
}
