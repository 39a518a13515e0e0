/**
 * The connection file Jupyter writes before starting a kernel: ports, transport and the HMAC key.
 */
import { readFileSync } from "node:fs";

export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
}

const PORTS = ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const;
export type Channel = "shell" | "iopub" | "stdin" | "control" | "hb";

export function parseConnectionInfo(text: string, source: string): ConnectionInfo {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`connection file ${source} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const transport = raw.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") {
    throw new Error(`connection file ${source}: transport '${String(transport)}' is not supported (tcp or ipc).`);
  }
  for (const port of PORTS) {
    const value = raw[port];
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      throw new Error(`connection file ${source}: ${port} must be a positive integer, got ${JSON.stringify(value)}.`);
    }
  }
  return {
    transport,
    ip: typeof raw.ip === "string" ? raw.ip : "127.0.0.1",
    shell_port: raw.shell_port as number,
    iopub_port: raw.iopub_port as number,
    stdin_port: raw.stdin_port as number,
    control_port: raw.control_port as number,
    hb_port: raw.hb_port as number,
    key: typeof raw.key === "string" ? raw.key : "",
    signature_scheme: typeof raw.signature_scheme === "string" ? raw.signature_scheme : "hmac-sha256",
  };
}

export function readConnectionFile(path: string): ConnectionInfo {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read the connection file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseConnectionInfo(text, path);
}

/** ZMQ endpoint of one channel; ipc endpoints are `<ip>-<port>` paths, as jupyter_client makes them. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port` as const];
  return info.transport === "ipc" ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`;
}
