/**
 * `segmentCanvas(..., {autosave: path})`: the committed labels written after every change to
 * them, so a kernel crash or a re-run cell loses nothing that was committed.
 *
 * Debounced: a burst of undo/redo writes once. Writes are serialized and atomic (the NIfTI and
 * PNG writers rename a finished temporary file), so the file always holds a complete label map.
 */
const AUTOSAVE_DELAY_MS = 300;

export class Autosave {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private disabled = false;

  constructor(
    private readonly path: string | undefined,
    private readonly write: (path: string) => Promise<unknown>,
    private readonly report: (err: Error) => void,
  ) {}

  /** The labels changed: write them soon (nothing without a path). */
  schedule(): void {
    const path = this.path;
    if (!path || this.disabled) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing
        .then(() => this.write(path))
        .then(
          () => undefined,
          (err: unknown) => this.report(new Error(`autosave to ${path} failed: ${err instanceof Error ? err.message : String(err)}`)),
        );
    }, AUTOSAVE_DELAY_MS);
  }

  /** Stops writing (the file could not be reopened: it must not be overwritten). */
  disable(): void {
    this.disabled = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves when the last scheduled write has finished (at once without autosave). */
  async flushed(): Promise<void> {
    while (this.timer) await new Promise((r) => setTimeout(r, AUTOSAVE_DELAY_MS));
    await this.writing;
  }
}
