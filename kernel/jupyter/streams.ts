/**
 * stdout/stderr text becomes `stream` messages. Writes of one moment are merged (a loop that
 * prints 10 000 lines sends a handful of messages, not 10 000), and any other iopub message
 * flushes first, so text and displays keep the order in which the code produced them.
 */
import type { JupyterMessage } from "./wire.js";

export type StreamName = "stdout" | "stderr";

type Emit = (parent: JupyterMessage, name: StreamName, text: string) => void;

export class OutputStreams {
  private pending: { parent: JupyterMessage; name: StreamName; text: string }[] = [];
  private scheduled = false;

  constructor(private readonly emit: Emit) {}

  write(parent: JupyterMessage, name: StreamName, text: string): void {
    if (text === "") return;
    const last = this.pending.at(-1);
    if (last && last.parent === parent && last.name === name) last.text += text;
    else this.pending.push({ parent, name, text });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    for (const item of items) this.emit(item.parent, item.name, item.text);
  }
}
