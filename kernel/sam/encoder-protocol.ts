/** Messages between the kernel and the encoder process (kernel/sam/encoder-process.ts). */
import type { Size2D } from "../io/image.js";
import type { Device, SessionDevice } from "./device.js";
import type { DeviceProblem } from "./device-diagnosis.js";

export interface EncoderSettings {
  readonly imageSize: number;
  readonly pixelMean: readonly [number, number, number];
  readonly pixelStd: readonly [number, number, number];
}

export type ToEncoder =
  | { readonly type: "load"; readonly path: string; readonly sessionOptions: Record<string, unknown>; readonly device: Device }
  | {
      readonly type: "embed";
      readonly id: number;
      /** HWC uint8 RGB, a tight copy (a view would carry its whole buffer through IPC). */
      readonly rgb: Uint8Array;
      readonly width: number;
      readonly height: number;
      /**
       * Set when `rgb` is already resized (resizeForEncoder, done in the kernel): the size of
       * the image it was resized from. The process then only normalises and pads.
       */
      readonly originalSize?: Size2D;
      readonly settings: EncoderSettings;
    };

export type FromEncoder =
  | { readonly type: "loaded"; readonly input: string; readonly output: string; readonly device: SessionDevice; readonly notice?: string }
  /** An embed request was taken up: its IPC message has been read in full. */
  | { readonly type: "started"; readonly id: number }
  | {
      readonly type: "load-error";
      readonly message: string;
      /** Set when the device could not start (the kernel rebuilds the DeviceUnavailableError). */
      readonly unavailable?: { readonly device: SessionDevice; readonly problem: DeviceProblem; readonly onnxruntimeMessage: string };
    }
  | {
      readonly type: "embedded";
      readonly id: number;
      readonly data: Float32Array;
      readonly resizedSize: Size2D;
      /** Milliseconds spent preprocessing and in session.run, for benchmarks and progress. */
      readonly preprocessMs: number;
      readonly encoderMs: number;
    }
  | { readonly type: "embed-error"; readonly id: number; readonly message: string };
