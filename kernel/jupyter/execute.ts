/**
 * Cells: compiled and run by tslab's converter and executor, answered (complete, inspect,
 * is_complete) by tslab's request handler. What tslab prints we capture instead, so the kernel
 * can send a cell's last value as `execute_result` and its failure as an `error` message rather
 * than as text on stderr.
 */
import { createRequire } from "node:module";
import { inspect } from "node:util";
import { createConverter, type Converter } from "tslab/dist/converter.js";
import { createExecutor, type ConverterSet, type Executor } from "tslab/dist/executor.js";
import { JupyterHandlerImpl } from "tslab/dist/jupyter.js";

const require = createRequire(import.meta.url);

/** Versions of what compiles the cells (tslab bundles its own TypeScript). */
export const tslabVersions = require("tslab/dist/public.js").versions as { tslab: string; typescript: string; node: string };

export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

export interface CompleteReply {
  status: "ok";
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
}

export interface InspectReply {
  status: "ok";
  found: boolean;
  data: Record<string, string>;
  metadata: Record<string, unknown>;
}

export interface IsCompleteReply {
  status: "complete" | "incomplete" | "invalid" | "unknown";
  indent?: string;
}

export type CellOutcome =
  | { status: "ok"; /** present when the cell ended with a non-null expression */ result?: { value: unknown } }
  | { status: "error"; error: CellError };

/** The format string tslab's executor prints a compile diagnostic with. */
const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

/** tslab's interruption errors: breakOnSigint for synchronous code, its own for awaited code. */
function isInterruption(err: unknown): boolean {
  return (
    err instanceof Error &&
    ((err as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || err.message === "Interrupted asynchronously")
  );
}

/** Stack frames of the kernel and of tslab say nothing about the user's code. */
const INTERNAL_FRAME = /\bat .*(node:internal|node:vm|[\\/]tslab[\\/]dist[\\/]|[\\/]kernel[\\/]jupyter[\\/])/;

export function describeError(err: unknown): CellError {
  if (isInterruption(err)) {
    return { ename: "Interrupted", evalue: "the cell was interrupted", traceback: ["Interrupted: the cell was interrupted"] };
  }
  if (err instanceof Error) {
    // The stack may start with Node's decoration (file:line, the source line, a caret) before
    // the message; the head is rebuilt from name and message, then the user's frames follow.
    const head = `${err.name}: ${err.message}`.split("\n");
    const frames = (err.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line) && !INTERNAL_FRAME.test(line));
    return { ename: err.name, evalue: err.message, traceback: [...head, ...frames] };
  }
  const text = inspect(err);
  return { ename: "Uncaught", evalue: text, traceback: [`Uncaught ${text}`] };
}

class Converters implements ConverterSet {
  private nodeConv?: Converter;
  private browserConv?: Converter;

  get node(): Converter {
    return (this.nodeConv ??= createConverter({ isJS: false, isBrowser: false }));
  }
  get browser(): Converter {
    return (this.browserConv ??= createConverter({ isJS: false, isBrowser: true }));
  }
  close(): void {
    this.nodeConv?.close();
    this.browserConv?.close();
  }
}

export class CellRunner {
  private readonly converters = new Converters();
  private readonly executor: Executor;
  readonly handler: JupyterHandlerImpl;
  /** What the executor reported during the current run. */
  private capture: { result?: { value: unknown }; errors: unknown[]; diagnostics: string[] } = { errors: [], diagnostics: [] };

  constructor(cwd: string) {
    // Warm the compiler now (a few hundred ms) rather than in the first cell.
    void this.converters.node;
    this.executor = createExecutor(cwd, this.converters, {
      // The executor logs exactly one thing: the cell's last expression value.
      log: (value: unknown) => {
        this.capture.result = { value };
      },
      // ...and reports errors: `("%s%d:%d - %s", file, line, col, text)` for compile
      // diagnostics, `(error)` for exceptions.
      error: (first: unknown, ...rest: unknown[]) => {
        if (first === DIAGNOSTIC_FORMAT) {
          const [file, line, col, text] = rest as [string, number, number, string];
          this.capture.diagnostics.push(`${file}${line}:${col} - ${text}`);
        } else {
          this.capture.errors.push(first);
        }
      },
    });
    this.handler = new JupyterHandlerImpl(this.executor, false);
  }

  async run(code: string): Promise<CellOutcome> {
    this.capture = { errors: [], diagnostics: [] };
    let ok: boolean;
    try {
      ok = await this.executor.execute(code);
    } catch (err) {
      // tslab catches cell errors itself; this is a failure of the compiler or executor.
      return { status: "error", error: describeError(err) };
    }
    const { result, errors, diagnostics } = this.capture;
    if (ok) return result ? { status: "ok", result } : { status: "ok" };
    if (diagnostics.length > 0) {
      return {
        status: "error",
        error: { ename: "CompileError", evalue: diagnostics.join("\n"), traceback: ["TypeScript compile errors:", ...diagnostics] },
      };
    }
    if (errors.length > 0) return { status: "error", error: describeError(errors[0]) };
    return { status: "error", error: { ename: "Error", evalue: "the cell failed without an error message", traceback: [] } };
  }

  /** Rejects the awaited part of the running cell (synchronous code is stopped by SIGINT itself). */
  interrupt(): void {
    this.executor.interrupt();
  }

  complete(code: string, cursorPos: number): CompleteReply {
    return this.handler.handleComplete({ code, cursor_pos: cursorPos });
  }

  inspect(code: string, cursorPos: number, detailLevel: 0 | 1): InspectReply {
    return this.handler.handleInspect({ code, cursor_pos: cursorPos, detail_level: detailLevel });
  }

  isComplete(code: string): IsCompleteReply {
    return this.handler.handleIsComplete({ code });
  }

  close(): void {
    this.handler.close();
  }
}
