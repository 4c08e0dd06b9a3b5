/**
 * Microbenchmark of the reference float Conv: a 1x64x56x56 input through a 64x64 3x3
 * conv (pad 1, stride 1) — a ResNet-18 stage-1 layer. Prints median/min ms and GFLOP/s.
 *
 * Run: `deno run bench/ref_conv.ts [runs]`
 *
 * @module
 */
import { Conv } from "../kernels/ref/conv.ts";
import type { Tensor } from "../runtime/tensor.ts";

/** Fills a float32 tensor with deterministic pseudo-random values in [-1, 1). */
export function randTensor(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { dtype: "float32", shape, data };
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 10);
  const x = randTensor([1, 64, 56, 56], 1);
  const w = randTensor([64, 64, 3, 3], 2);
  const b = randTensor([64], 3);
  const attrs = { pads: [1, 1, 1, 1], strides: [1, 1] };
  const ctx = {
    node: { name: "bench", op: "Conv", domain: "", inputs: [], outputs: [], attrs },
    opset: 17,
  };
  for (let i = 0; i < 3; i++) Conv.run([x, w, b], attrs, ctx);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    Conv.run([x, w, b], attrs, ctx);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  const flops = 2 * 64 * 64 * 9 * 56 * 56;
  console.log(
    `ref Conv 1x64x56x56 * 64x64x3x3 (pad 1): median ${med.toFixed(1)} ms, ` +
      `min ${times[0].toFixed(1)} ms, ${(flops / med / 1e6).toFixed(2)} GFLOP/s over ${runs} runs`,
  );
}
