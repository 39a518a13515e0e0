/**
 * Kernel diagnostics. They cannot go to the console: stdout and stderr are redirected into the
 * output of the running cell. They go to a file next to the connection file (Jupyter's runtime
 * folder) unless MEDICOSAM_KERNEL_LOG names another one.
 */
import { appendFileSync } from "node:fs";
import { format } from "node:util";

export type LogLevel = "debug" | "info" | "warn" | "error";

export class KernelLog {
  constructor(readonly path: string | null) {}

  write(level: LogLevel, ...args: unknown[]): void {
    if (!this.path) return;
    try {
      appendFileSync(this.path, `${new Date().toISOString()} ${level.toUpperCase()} ${format(...args)}\n`);
    } catch {
      // A log that cannot be written must not take the kernel down.
    }
  }

  info(...args: unknown[]): void {
    this.write("info", ...args);
  }
  warn(...args: unknown[]): void {
    this.write("warn", ...args);
  }
  error(...args: unknown[]): void {
    this.write("error", ...args);
  }
  debug(...args: unknown[]): void {
    if (process.env.MEDICOSAM_KERNEL_DEBUG === "1") this.write("debug", ...args);
  }
}

/** `<runtime dir>/kernel-abc.json` -> `<runtime dir>/kernel-abc.log`. */
export function defaultLogPath(connectionFile: string): string {
  return process.env.MEDICOSAM_KERNEL_LOG || connectionFile.replace(/(\.json)?$/, ".log");
}
