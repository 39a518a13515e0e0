/**
 * Entry point Jupyter starts (see the kernelspec written by `medicosam install`):
 *   node <package>/dist/kernel/jupyter/main.js --connection-file <file>
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readConnectionFile } from "./connection.js";
import { defaultLogPath, KernelLog } from "./log.js";
import { installCompilerRedirect, installRuntimeRedirect, ownPackage } from "./package-redirect.js";
import { Kernel } from "./server.js";

const USAGE = "usage: node dist/kernel/jupyter/main.js --connection-file <kernel-*.json>  (Jupyter runs this; see `medicosam install`)";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { "connection-file": { type: "string", short: "f" } },
    allowPositionals: true,
  });
  const connectionFile = values["connection-file"] ?? positionals[0];
  if (!connectionFile) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const log = new KernelLog(defaultLogPath(connectionFile));
  const pkg = ownPackage();
  const cwd = process.cwd();
  log.info(`starting: node ${process.version}, package ${pkg.name} at ${pkg.root}, cwd ${cwd}`);

  // Both before the kernel exists: the compiler binds its file-system hooks when created.
  installRuntimeRedirect(pkg);
  installCompilerRedirect(pkg, cwd);

  const version = (JSON.parse(readFileSync(join(pkg.root, "package.json"), "utf8")) as { version?: string }).version ?? "0.0.0";
  const kernel = await Kernel.start({
    connection: readConnectionFile(connectionFile),
    log,
    cwd,
    implementationVersion: version,
    onShutdown: () => {
      log.info("shut down");
      // Cells may leave timers, servers or workers behind; they must not keep a dead kernel
      // alive. The delay lets closed sockets linger until their last messages are out.
      setTimeout(() => process.exit(0), 300);
    },
  });

  // interrupt_mode "signal": Jupyter interrupts with SIGINT. Synchronous cell code is stopped by
  // Node itself (tslab runs cells with breakOnSigint); this handles awaited work.
  process.on("SIGINT", () => kernel.interrupt());
  process.on("SIGTERM", () => void kernel.stop().then(() => setTimeout(() => process.exit(0), 300)));
  watchParent(kernel, log);
  process.on("uncaughtException", (err) => kernel.reportBackgroundError("Uncaught exception", err));
  process.on("unhandledRejection", (reason) => kernel.reportBackgroundError("Unhandled promise rejection", reason));
}

/**
 * jupyter_client names the process that started the kernel in JPY_PARENT_PID. When that process
 * dies without shutting the kernel down (a crashed server, a killed test run), the kernel ends
 * too instead of running on as an orphan, as ipykernel does.
 */
function watchParent(kernel: Kernel, log: KernelLog): void {
  const parent = Number(process.env.JPY_PARENT_PID);
  // On Windows the variable holds a process handle, not a pid.
  if (process.platform === "win32" || !Number.isInteger(parent) || parent <= 1) return;
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch (err) {
      // EPERM: alive, but another user's.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") return;
      log.warn(`the process that started the kernel (${parent}) is gone; shutting down`);
      clearInterval(timer);
      void kernel.stop().then(() => setTimeout(() => process.exit(0), 300));
    }
  }, 2000);
  timer.unref();
}

main().catch((err: unknown) => {
  // Before the sockets exist nobody can see an iopub message; stderr reaches Jupyter's log.
  process.stderr.write(`medicosam kernel failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
