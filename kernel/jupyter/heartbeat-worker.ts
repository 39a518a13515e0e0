/**
 * The heartbeat echo runs in its own thread, as in ipykernel: a cell that keeps the main event
 * loop busy (a synchronous loop, an ONNX run on the main thread) must not make the front end
 * believe the kernel died.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Reply } from "zeromq";

const { address } = workerData as { address: string };
const socket = new Reply();
socket.linger = 0;
await socket.bind(address);
parentPort?.postMessage({ bound: true });
parentPort?.on("message", (msg: unknown) => {
  if (msg === "close") socket.close();
});
try {
  for await (const frames of socket) await socket.send(frames);
} catch {
  // The socket closed under the loop: that is the normal way out.
}
