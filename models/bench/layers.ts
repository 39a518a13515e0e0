/**
 * PyTorch layers as ONNX subgraphs, in the form `torch.onnx.export` traces them, so that the
 * benchmark models cost what an exported SAM costs (same ops, same tensor shapes, same layouts).
 *
 * Weights get PyTorch's default initialisation scale (uniform, bound 1/sqrt(fan_in)), which
 * keeps activations in a normal float range through a deep random network; LayerNorm affine
 * parameters are near 1 and 0. Every learnable tensor is counted, so that the model can be
 * compared with the parameter count of the real network.
 */
import { GraphBuilder, float } from "../../kernel/onnx/graph.js";
import { gaussian, rng, uniform } from "./random.js";

export class Net {
  readonly g: GraphBuilder;
  private readonly next: () => number;
  /** Learnable parameters added so far (buffers such as index tables are not counted). */
  params = 0;

  constructor(graphName: string, seed: number) {
    this.g = new GraphBuilder(graphName);
    this.next = rng(seed);
  }

  private count(dims: readonly number[]): number {
    return dims.reduce((a, b) => a * b, 1);
  }

  /** A learnable tensor, uniform with the given standard deviation and mean. */
  param(name: string, dims: readonly number[], std: number, mean = 0): string {
    const n = this.count(dims);
    this.params += n;
    return this.g.initializer(name, uniform(this.next, n, std, mean), dims);
  }

  /** A learnable tensor drawn from N(0, std^2) (nn.Embedding's default). */
  gaussianParam(name: string, dims: readonly number[], std = 1): string {
    const n = this.count(dims);
    this.params += n;
    return this.g.initializer(name, gaussian(this.next, n, std), dims);
  }

  /** Gaussian values that are not parameters (e.g. SAM's random Fourier matrix, a buffer). */
  gaussianValues(count: number, std = 1): Float32Array {
    return gaussian(this.next, count, std);
  }

  /** PyTorch's default weight scale: uniform with bound 1/sqrt(fanIn), i.e. std 1/sqrt(3 fanIn). */
  static defaultStd(fanIn: number): number {
    return 1 / Math.sqrt(3 * fanIn);
  }

  /** nn.Linear on the last axis: MatMul with the [in, out] weight, then Add of the bias. */
  linear(x: string, inF: number, outF: number, name: string, bias = true): string {
    const std = Net.defaultStd(inF);
    const w = this.param(`${name}.weight`, [inF, outF], std);
    const y = this.g.op("MatMul", [x, w]);
    return bias ? this.g.op("Add", [y, this.param(`${name}.bias`, [outF], std)]) : y;
  }

  /** nn.LayerNorm over the last axis, as the opset-17 LayerNormalization op. */
  layerNorm(x: string, dim: number, eps: number, name: string): string {
    const scale = this.param(`${name}.weight`, [dim], 0.02, 1);
    const bias = this.param(`${name}.bias`, [dim], 0.02);
    return this.g.op("LayerNormalization", [x, scale, bias], { axis: -1, epsilon: float(eps) });
  }

  /**
   * SAM's LayerNorm2d (channel axis of NCHW) exactly as traced: it is written with mean/pow/sqrt
   * in Python, so the export has no LayerNormalization op for it.
   */
  layerNorm2d(x: string, channels: number, eps: number, name: string): string {
    const g = this.g;
    const u = g.op("ReduceMean", [x], { axes: [1], keepdims: 1 });
    const d = g.op("Sub", [x, u]);
    const s = g.op("ReduceMean", [g.op("Pow", [d, g.constFloat(2)])], { axes: [1], keepdims: 1 });
    const n = g.op("Div", [d, g.op("Sqrt", [g.op("Add", [s, g.constFloat(eps)])])]);
    const w = this.param(`${name}.weight`, [channels, 1, 1], 0.02, 1);
    const b = this.param(`${name}.bias`, [channels, 1, 1], 0.02);
    return g.op("Add", [g.op("Mul", [n, w]), b]);
  }

  /** nn.GELU (exact, erf-based) as traced: x * 0.5 * (1 + erf(x / sqrt(2))). */
  gelu(x: string): string {
    const g = this.g;
    const e = g.op("Erf", [g.op("Div", [x, g.constFloat(Math.SQRT2)])]);
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [e, g.constFloat(1)])]), g.constFloat(0.5)]);
  }

  /** nn.Conv2d (square kernel). */
  conv(x: string, inC: number, outC: number, k: number, name: string, o: { stride?: number; pad?: number; bias?: boolean } = {}): string {
    const std = Net.defaultStd(inC * k * k);
    const w = this.param(`${name}.weight`, [outC, inC, k, k], std);
    const inputs = o.bias === false ? [x, w] : [x, w, this.param(`${name}.bias`, [outC], std)];
    const p = o.pad ?? 0;
    const s = o.stride ?? 1;
    return this.g.op("Conv", inputs, { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] });
  }

  /** nn.ConvTranspose2d (square kernel, stride = kernel, as in SAM's output upscaling). */
  convTranspose(x: string, inC: number, outC: number, k: number, name: string): string {
    const std = Net.defaultStd(outC * k * k);
    const w = this.param(`${name}.weight`, [inC, outC, k, k], std);
    const b = this.param(`${name}.bias`, [outC], std);
    return this.g.op("ConvTranspose", [x, w, b], { kernel_shape: [k, k], strides: [k, k] });
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.g.op("Reshape", [x, this.g.constInt64(shape)]);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.g.op("Transpose", [x], { perm });
  }
}
