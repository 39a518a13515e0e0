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
// Stopping is cooperative: terminate() while a ZMQ socket is open aborts the whole process
// (a C++ exception during the thread's teardown), so the thread closes its socket and ends.
parentPort?.on("message", (msg: unknown) => {
  if (msg === "close") {
    socket.close();
    parentPort?.close();
  }
});
parentPort?.postMessage({ bound: true });
try {
  for await (const frames of socket) await socket.send(frames);
} catch {
  // The socket closed under the loop: that is the normal way out.
}
