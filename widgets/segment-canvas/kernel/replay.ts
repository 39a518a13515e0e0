/**
 * `replaySession(model, image, session)`: re-runs a recorded canvas session (session.ts) on
 * another model, headlessly, and scores it. The replay is a real canvas on a runtime with no
 * front end (detached-runtime.ts): the same checks, reducer, decoder loop, candidates and
 * propagation as the original run, fed the recorded actions in order and waiting for each mask
 * before the next action (the original user waited for what they saw). Strokes replay as
 * recorded, so an object drawn only with the brush comes out the same on any model.
 *
 * Objects are matched by label id. An action the replay refuses (e.g. a commit when the other
 * model found nothing) is listed in `skipped`; later objects keep the ids the replay gives them.
 */
import { readFile } from "node:fs/promises";
import { dice } from "../../../kernel/analysis/metrics.js";
import { tableBundle } from "../../../kernel/display/figures-protocol.js";
import { DISPLAY, PlotlyChart, type MimeBundle, type PlotlyFigure } from "../../../kernel/display/plotly.js";
import type { ViewName } from "../../../kernel/io/volume-view.js";
import { decodeRle, decodeStack, fromBase64 } from "../common/mask-codec.js";
import { defaultName } from "../common/reducer.js";
import type { SegmentCanvas } from "./canvas.js";
import { segmentCanvas } from "./create.js";
import { detachedRuntime } from "./detached-runtime.js";
import { readLabelsInput, type LabelsInput } from "./load-labels.js";
import { SESSION_FORMAT, SESSION_VERSION, describeImage, sessionImage, sessionModel, type CanvasSession, type SessionObjectMask } from "./session.js";
import { canvasSource, type CanvasInput, type CanvasSource } from "./source.js";
import type { CanvasModel } from "./types.js";

/** A session object, its JSON text, or the path of a JSON file holding it. */
export type SessionInput = CanvasSession | string;

export interface ReplayOptions {
  /** Reference labels (array in the source's layout, or a NIfTI / PNG path) to score both runs against. */
  reference?: LabelsInput;
  /** Replay even when the image is not the one the session was recorded on (default false: refused). */
  ignoreImageMismatch?: boolean;
}

/** One object of the original run, scored. */
export interface ReplayObject {
  readonly label: number;
  readonly name: string;
  readonly voxelsOriginal: number;
  readonly voxelsReplay: number;
  /** Dice between the replay's label and the original run's (the committed label maps at the end). */
  readonly diceReplayVsOriginal: number;
  /** The reference label that overlaps the original object most (0: none); undefined without a reference. */
  readonly referenceLabel?: number;
  readonly diceOriginalVsReference?: number;
  readonly diceReplayVsReference?: number;
}

export interface SkippedEvent {
  readonly event: number;
  readonly type: string;
  readonly error: string;
}

/** What `replaySession` returns: per-object Dice, a table and a chart (the value displays both). */
export class SessionReplay {
  constructor(
    readonly originalModel: string,
    readonly replayModel: string,
    readonly objects: readonly ReplayObject[],
    /** Recorded events the replay refused, with why. */
    readonly skipped: readonly SkippedEvent[],
    /** The replay's committed labels in the source's layout. */
    readonly labels: Uint16Array,
  ) {}

  /** One row per object, as the table shows it. */
  rows(): Record<string, string | number>[] {
    return this.objects.map((o) => {
      const row: Record<string, string | number> = {
        label: o.label,
        name: o.name,
        "voxels (original)": o.voxelsOriginal,
        "voxels (replay)": o.voxelsReplay,
        "Dice replay vs original": o.diceReplayVsOriginal,
      };
      if (o.referenceLabel !== undefined) {
        row["reference label"] = o.referenceLabel;
        row["Dice original vs reference"] = o.diceOriginalVsReference!;
        row["Dice replay vs reference"] = o.diceReplayVsReference!;
      }
      return row;
    });
  }

  private caption(): string {
    const skipped = this.skipped.length > 0 ? `; ${this.skipped.length} recorded action(s) refused by the replay` : "";
    return `Session of ${this.originalModel} replayed on ${this.replayModel}${skipped}`;
  }

  table(): { [DISPLAY](): MimeBundle } {
    const t = tableBundle(this.rows(), this.caption());
    return { [DISPLAY]: () => ({ "text/html": t.html, "text/plain": t.text }) };
  }

  chart(): PlotlyChart {
    const x = this.objects.map((o) => `${o.label}: ${o.name}`);
    const series: [string, (o: ReplayObject) => number | undefined][] = [
      [`${this.replayModel} vs ${this.originalModel}`, (o) => o.diceReplayVsOriginal],
      [`${this.originalModel} vs reference`, (o) => o.diceOriginalVsReference],
      [`${this.replayModel} vs reference`, (o) => o.diceReplayVsReference],
    ];
    const data = series
      .filter(([, get]) => this.objects.some((o) => get(o) !== undefined))
      .map(([name, get]) => ({ type: "bar", name, x, y: this.objects.map((o) => get(o) ?? null) }));
    const figure: PlotlyFigure = {
      data,
      layout: {
        title: { text: this.caption() },
        barmode: "group",
        yaxis: { title: { text: "Dice" }, range: [0, 1] },
        xaxis: { title: { text: "object" }, type: "category" },
      },
    };
    return new PlotlyChart(figure);
  }

  async [DISPLAY](): Promise<MimeBundle> {
    const chart = await this.chart()[DISPLAY]();
    const table = tableBundle(this.rows(), this.caption());
    return { ...chart, "text/html": `${chart["text/html"] as string}\n${table.html}`, "text/plain": table.text };
  }
}

/** A session from an object, JSON text or a file, checked for the fields a replay reads. */
export async function readSession(input: SessionInput): Promise<CanvasSession> {
  let parsed: unknown = input;
  if (typeof input === "string") {
    const text = input.trimStart().startsWith("{") ? input : await readFile(input, "utf8");
    parsed = JSON.parse(text);
  }
  const s = parsed as Partial<CanvasSession> | null;
  if (!s || s.format !== SESSION_FORMAT) throw new Error(`not a canvas session (format '${String(s?.format)}', expected '${SESSION_FORMAT}')`);
  if (s.version !== SESSION_VERSION) throw new Error(`canvas session version ${String(s.version)}; this package reads version ${SESSION_VERSION}`);
  if (!Array.isArray(s.events) || !Array.isArray(s.objects) || typeof s.labels !== "string" || !s.image || !s.model || !s.settings) {
    throw new Error("a canvas session needs events, objects, labels, image, model and settings");
  }
  return s as CanvasSession;
}

/** Display slices of label ids -> the source's layout. */
function toSource(source: CanvasSource, slices: Map<number, Uint16Array>): Uint16Array {
  return source.toSourceLayout(slices, (n) => new Uint16Array(n));
}

/** The session's committed labels, in the source's layout. */
function sessionLabels(session: CanvasSession, source: CanvasSource): Uint16Array {
  const n = source.width * source.height;
  const stack = decodeStack(fromBase64(session.labels), source);
  const slices = new Map<number, Uint16Array>();
  for (const [z, rle] of stack.slices) slices.set(z, decodeRle(rle, n, new Uint16Array(n)));
  return toSource(source, slices);
}

/** A loaded label map of a session, back in the source's layout. */
function loadedLabels(objects: readonly SessionObjectMask[], source: CanvasSource): Uint16Array {
  const n = source.width * source.height;
  const slices = new Map<number, Uint16Array>();
  for (const o of objects) {
    for (const [z, b64] of Object.entries(o.slices)) {
      const mask = decodeRle(fromBase64(b64), n);
      const slice = slices.get(Number(z)) ?? new Uint16Array(n);
      for (let i = 0; i < n; i++) if (mask[i]) slice[i] = o.label;
      slices.set(Number(z), slice);
    }
  }
  return toSource(source, slices);
}

function maskOf(labels: ArrayLike<number>, label: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === label ? 1 : 0;
  return out;
}

/** The reference label overlapping `mask` most (0 when none does). */
function bestOverlap(reference: ArrayLike<number>, mask: Uint8Array): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < mask.length; i++) {
    const r = reference[i]!;
    if (mask[i] && r !== 0) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  let best = 0;
  let most = 0;
  for (const [label, c] of counts) if (c > most) [best, most] = [label, c];
  return best;
}

/** Names the loaded objects as recorded (a label map from an array carries none). */
async function restoreNames(w: SegmentCanvas, objects: readonly SessionObjectMask[]): Promise<void> {
  for (const o of objects) if (o.name !== defaultName(o.label)) await w.renameObject(o.label, o.name);
}

async function runEvents(w: SegmentCanvas, session: CanvasSession, source: CanvasSource): Promise<SkippedEvent[]> {
  const skipped: SkippedEvent[] = [];
  for (const [i, event] of session.events.entries()) {
    try {
      if (event.kind === "load") {
        if (!event.start) await w.loadLabels(loadedLabels(event.objects, source), { replace: event.replace });
        await restoreNames(w, event.objects);
      } else {
        await w.perform(event.action);
      }
      await w.whenIdle();
    } catch (err) {
      skipped.push({ event: i, type: event.kind === "load" ? "load_labels" : event.action.type, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return skipped;
}

/**
 * Re-runs `session` (from `w.exportSession()`, as an object, JSON text or a file path) on
 * `model` and `image`, without a front end, and returns per-object Dice between the recorded
 * run's committed labels and the replay's, and against `reference` labels when given. The image
 * must be the one the session was recorded on (same display pixels); `ignoreImageMismatch`
 * replays anyway.
 */
export async function replaySession(model: CanvasModel, image: CanvasInput, input: SessionInput, options: ReplayOptions = {}): Promise<SessionReplay> {
  const session = await readSession(input);
  const view = (session.image.view ?? undefined) as ViewName | undefined;
  const source = canvasSource(image, view);
  const identity = sessionImage(source, view);
  const sameImage = (["kind", "width", "height", "depth", "channels", "dtype", "sha256"] as const).every((k) => identity[k] === session.image[k]);
  if (!sameImage && !options.ignoreImageMismatch) {
    throw new Error(
      `this session was recorded on ${describeImage(session.image)}, not on this image (${describeImage(identity)}); ` +
        "replay it on the image it was made on, or pass {ignoreImageMismatch: true}",
    );
  }
  const start = session.events[0]?.kind === "load" && session.events[0].start ? session.events[0] : undefined;
  const w = segmentCanvas(model, image, {
    runtime: detachedRuntime(),
    ...(view ? { view } : {}),
    autoSegment: session.settings.autoSegment,
    ...(session.settings.multimask ? { multimask: session.settings.multimask } : {}),
    prefetch: 0,
    ...(start ? { labels: loadedLabels(start.objects, source) } : {}),
  });
  try {
    await w.loaded;
    const skipped = await runEvents(w, session, source);
    await w.whenIdle();
    const replayed = w.labels;
    const original = sessionLabels(session, source);
    const reference = options.reference === undefined ? undefined : (await readLabelsInput(options.reference, source)).data;
    const objects = session.objects.map((o): ReplayObject => {
      const a = maskOf(original, o.label);
      const b = maskOf(replayed, o.label);
      const row: ReplayObject = {
        label: o.label,
        name: o.name,
        voxelsOriginal: a.reduce((s, v) => s + v, 0),
        voxelsReplay: b.reduce((s, v) => s + v, 0),
        diceReplayVsOriginal: dice(b, a),
      };
      if (!reference) return row;
      const referenceLabel = bestOverlap(reference, a);
      const ref = maskOf(reference, referenceLabel === 0 ? -1 : referenceLabel);
      return { ...row, referenceLabel, diceOriginalVsReference: dice(a, ref), diceReplayVsReference: dice(b, ref) };
    });
    return new SessionReplay(session.model.name, sessionModel(model).name, objects, skipped, replayed);
  } finally {
    w.close();
  }
}
