/**
 * Write footprints of the parallel wasm kernels (a deterministic check for data races
 * between the parts of a threaded call). The worker pool is replaced by a simulated
 * 2-thread pool: every call split in two parts runs each part alone from the same memory
 * snapshot, then in both orders (part 0 then 1, part 1 then 0). A call fails when
 *  - a byte is changed by both parts run alone (overlapping writes: e.g. a SIMD store or a
 *    spill past a part's own rows into the neighbour's, or scratch shared by the threads),
 *  - or the two orders leave different memory (a part reads what the other writes).
 * Covered: the quantized ResNet-14 fixture (the bench model's kernels: prep_x7, the
 * stride-1 3×3 convs on prep_dc + conv_dc, the stem on prep_dc1 (packed taps), the 1×1
 * stride-2 downsamples on prep_dc (a phase plane), 3×3 strided convs on conv_k4 with per-thread
 * scratch, conv_im2row + gemm_cols7, fused residuals, QGemm, GAP, quantize / dequantize) at
 * the real grains and with every call split, and odd-shaped single nodes with every call
 * split (QGemm on the k4 GEMM and QMatMul with folded Transposes included); the checker
 * itself must catch an overlap.
 */
import assert from "node:assert/strict";
import { chunkCount, chunkRange, ThreadPool } from "../kernels/wasm/threads.ts";
import { compileWasm } from "../kernels/wasm/compile.ts";
import { convOptions } from "../kernels/wasm/ops_int8.ts";
import { fusedCounts } from "../kernels/wasm/fuse.ts";
import type { KernelInstance } from "../kernels/wasm/instance.ts";
import { nodesGraph, qaddAttrs, Rng, type TestNode } from "../kernels/wasm/testing.ts";
import { quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import { quantize } from "../quantizer/quantize.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { load } from "../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import type { Tensor } from "../runtime/tensor.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface Footprint {
  /** Split calls checked, by kernel. */
  calls: Map<string, number>;
  /** Failures: "kernel total=…: …". */
  bad: string[];
}

/**
 * Installs the simulated pool for the duration of `fn`. `shiftLo` moves part 1's start
 * back by that many items for the named kernel (a deliberate overlap, for the self-test).
 */
async function withFootprintPool<T>(
  fn: (fp: Footprint) => Promise<T>,
  inject?: { kernel: string; shiftLo: number },
): Promise<T> {
  const fp: Footprint = { calls: new Map(), bad: [] };
  const pool = ThreadPool as unknown as { start: typeof ThreadPool.start };
  const real = pool.start;
  pool.start = (inst: KernelInstance, threads: number) => {
    const k = inst.k as unknown as Record<string, (...a: number[]) => void>;
    return Promise.resolve({
      size: threads,
      close() {},
      wake() {},
      endRun() {},
      run(name: string, args: number[], total: number, grain: number) {
        if (total <= 0) return;
        // the chunks of ThreadPool.run / worker.ts; a chunk may run on either thread
        const n = chunkCount(total, grain, threads);
        if (n === 1) return k[name](...args, 0, total, 0);
        fp.calls.set(name, (fp.calls.get(name) ?? 0) + 1);
        const range = (i: number) => {
          const [lo, hi] = chunkRange(total, n, i);
          return [i === 1 && inject?.kernel === name ? lo - inject.shiftLo : lo, hi];
        };
        // chunks go to the threads alternately (every pair of neighbouring chunks is split
        // between the threads); each thread runs its chunks in order
        const part = (t: number) => {
          for (let i = t; i < n; i += 2) k[name](...args, ...range(i), t);
        };
        const mem = new Uint8Array(inst.memory.buffer);
        const snap = mem.slice();
        part(1);
        const only1 = mem.slice();
        mem.set(snap);
        part(0);
        const only0 = mem.slice();
        part(1);
        const a01 = mem.slice();
        mem.set(only1);
        part(0);
        let both = 0, order = 0, first = -1;
        for (let j = 0; j < mem.length; j++) {
          if (only0[j] !== snap[j] && only1[j] !== snap[j]) {
            both++;
            if (first < 0) first = j;
          }
          if (a01[j] !== mem[j]) order++;
        }
        mem.set(a01);
        if (both || order) {
          fp.bad.push(
            `${name} total=${total} chunks=${n}: ${both} bytes written by both` +
              ` threads (first at ${first}), ${order} bytes depend on the order`,
          );
        }
      },
    } as unknown as ThreadPool);
  };
  try {
    return await fn(fp);
  } finally {
    pool.start = real;
  }
}

let r14: Uint8Array | undefined;
async function resnet14(): Promise<Uint8Array> {
  if (!r14) {
    const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 32 });
    r14 = quantize(await Deno.readFile(`${ROOT}tests/fixtures/resnet14_op13.onnx`), calib).bytes;
  }
  return r14;
}

async function modelFootprint(
  splitAll: boolean,
  batches: number[],
  inject?: { kernel: string; shiftLo: number },
): Promise<Footprint> {
  const bytes = await resnet14();
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 8);
  return await withFootprintPool(async (fp) => {
    const m = await load(bytes, { backend: "wasm", threads: 2, backendOptions: { splitAll } });
    try {
      for (const b of batches) await m.run({ input: imageBatch(set, 0, b) });
    } finally {
      await m.dispose();
    }
    return fp;
  }, inject);
}

Deno.test("wasm footprint: ResNet-14 (s8) parts at 2 threads never write each other's bytes", async () => {
  for (const splitAll of [false, true]) {
    const fp = await modelFootprint(splitAll, splitAll ? [1, 3] : [1, 8]);
    assert.deepEqual(fp.bad, [], `splitAll=${splitAll}`);
    // the bench model's parallel paths were all exercised
    const want = splitAll
      ? [
        "prep_x7",
        "prep_dc",
        "prep_dc1",
        "conv_dc",
        "conv_k4",
        "conv_im2row",
        "gemm_cols7",
        "quantize",
        "dequantize",
        "gap",
      ]
      : ["conv_dc", "gemm_cols7"];
    for (const kname of want) {
      assert.ok(fp.calls.get(kname), `splitAll=${splitAll}: ${kname} split (${[...fp.calls]})`);
    }
  }
});

Deno.test("wasm footprint: the checker catches an overlap (part 1 starting one item early)", async () => {
  const kernels = [
    "conv_k4",
    "conv_dc",
    "prep_dc1",
    "conv_gemm7",
    "gemm_cols7",
    "prep_x7",
    "qadd",
    "qadd_lut",
  ];
  for (const kernel of kernels) {
    const fp = kernel.startsWith("qadd")
      ? await nodesFootprint([
        kernel === "qadd"
          ? qaddNode(new Rng(5), [2, 37, 11], true)
          : qaddNode(new Rng(5), [2, 97, 89]),
      ], {
        kernel,
        shiftLo: 1,
      })
      : kernel === "conv_gemm7"
      ? await nodesFootprint([
        convNode(new Rng(5), { N: 1, C: 48, M: 9, H: 13, W: 11, k: 3, s: 1 }),
      ], {
        kernel,
        shiftLo: 1,
      })
      : await modelFootprint(true, [1], { kernel, shiftLo: 1 });
    assert.ok(fp.bad.some((b) => b.startsWith(kernel)), `${kernel}: ${fp.bad.join("; ")}`);
  }
});

// ---- single nodes, odd shapes, every call split

function randQ(r: Rng, dtype: "int8" | "uint8", shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = dtype === "int8" ? r.int(-128, 127) : r.int(0, 255);
  return { dtype, shape, data };
}

function mults(r: Rng, n: number, k: number) {
  const mult: number[] = [], shift: number[] = [];
  for (let i = 0; i < n; i++) {
    const q = quantizeMultiplier(r.float(0.3, 3) / (Math.sqrt(k) * 128));
    mult.push(q.mult);
    shift.push(q.shift);
  }
  return { mult, shift };
}

function convNode(
  r: Rng,
  o: { N: number; C: number; M: number; H: number; W: number; k: number; s: number; res?: boolean },
): TestNode {
  const { N, C, M, H, W, k, s } = o;
  const w = new Int8Array(M * C * k * k).map(() => r.int(-64, 63));
  const pad = k >> 1;
  const oh = Math.floor((H + 2 * pad - k) / s) + 1, ow = Math.floor((W + 2 * pad - k) / s) + 1;
  const attrs: Record<string, unknown> = {
    kernel_shape: [k, k],
    pads: [pad, pad, pad, pad],
    strides: [s, s],
    group: 1,
    x_zp: r.int(-20, 20),
    ...mults(r, M, C * k * k),
    dtype: "int8",
    y_zp: r.int(-10, 10),
  };
  const inputs: TestNode["inputs"] = [
    { t: randQ(r, "int8", [N, C, H, W]) },
    { t: { dtype: "int8", shape: [M, C, k, k], data: w }, constant: true },
    undefined,
  ];
  if (o.res) {
    inputs.push({ t: randQ(r, "int8", [N, M, oh, ow]) });
    const q = (v: number) => quantizeMultiplier(v);
    const c = q(0.6), rr = q(0.4), y = q(0.9);
    Object.assign(attrs, {
      c_zp: 3,
      r_zp: -2,
      c_mult: c.mult,
      c_shift: c.shift,
      r_mult: rr.mult,
      r_shift: rr.shift,
      y_mult: y.mult,
      y_shift: y.shift,
    });
  }
  return { op: "QConv", attrs: attrs as TestNode["attrs"], inputs };
}

function gemmNode(r: Rng, rows: number, K: number, N: number): TestNode {
  const w = new Int8Array(N * K).map(() => r.int(-64, 63));
  return {
    op: "QGemm",
    attrs: { x_zp: 5, ...mults(r, N, K), dtype: "int8", y_zp: 1 } as TestNode["attrs"],
    inputs: [
      { t: randQ(r, "int8", [rows, K]) },
      { t: { dtype: "int8", shape: [N, K], data: w }, constant: true },
    ],
  };
}

/** A QAdd of two tensors of `shape` (the pair table from 2^14 elements), or b one trailing block (SIMD). */
function qaddNode(r: Rng, shape: number[], broadcast = false): TestNode {
  const q = (v: number) => quantizeMultiplier(v);
  const a = q(0.5), b = q(0.3), y = q(0.8);
  return {
    op: "QAdd",
    attrs: qaddAttrs(a, b, y, 1, -3, 2),
    inputs: [{ t: randQ(r, "int8", shape) }, {
      t: randQ(r, "int8", broadcast ? shape.slice(1) : shape),
    }],
  };
}

async function nodesFootprint(
  nodes: TestNode[],
  inject?: { kernel: string; shiftLo: number },
  direct = true,
): Promise<Footprint> {
  const { graph, feeds } = nodesGraph(nodes);
  return await withFootprintPool(async (fp) => {
    convOptions.direct = direct;
    const c = await compileWasm(graph, { threads: 2, splitAll: true, build: "relaxed" })
      .finally(() => convOptions.direct = true);
    try {
      await c.run(feeds);
    } finally {
      c.dispose();
    }
    return fp;
  }, inject);
}

Deno.test("wasm footprint: odd-shaped convs (dense taps, channel split, residual), gemms, adds", async () => {
  // the direct conv off: the stride-1 convs keep the paths named (it has its own test)
  const r = new Rng(11);
  const nodes: TestNode[] = [
    convNode(r, { N: 2, C: 1, M: 17, H: 29, W: 27, k: 3, s: 1 }), // dense stem, conv_k4
    convNode(r, { N: 1, C: 37, M: 11, H: 13, W: 12, k: 3, s: 1 }), // dense, K 333: conv_gemm7
    convNode(r, { N: 1, C: 48, M: 13, H: 11, W: 13, k: 3, s: 2, res: true }), // conv_gemm7
    convNode(r, { N: 1, C: 3, M: 9, H: 7, W: 5, k: 3, s: 1, res: true }), // dense + byCols
    convNode(r, { N: 1, C: 20, M: 13, H: 7, W: 7, k: 3, s: 1 }), // dense, channel split
    convNode(r, { N: 2, C: 32, M: 34, H: 7, W: 7, k: 3, s: 1, res: true }), // byCols
    convNode(r, { N: 1, C: 16, M: 23, H: 15, W: 13, k: 3, s: 2, res: true }),
    convNode(r, { N: 1, C: 48, M: 21, H: 9, W: 11, k: 1, s: 1, res: true }), // pointwise (k4)
    convNode(r, { N: 2, C: 5, M: 9, H: 7, W: 9, k: 1, s: 1 }), // k4: channel tail, odd pixels
    convNode(r, { N: 1, C: 3, M: 19, H: 23, W: 21, k: 7, s: 2 }), // stem: conv_k4, dense taps
    convNode(r, { N: 2, C: 16, M: 9, H: 11, W: 13, k: 3, s: 1, res: true }), // conv_k4
    gemmNode(r, 11, 37, 10), // k4 (rows as pixels)
    gemmNode(r, 29, 37, 11), // k4: odd rows
    gemmNode(r, 13, 300, 10), // K > 256: gemm_rows7
    gemmNode(r, 3, 100, 13),
    qaddNode(r, [2, 97, 89]), // the pair table (qaddOptions.lutMin elements or more)
    qaddNode(r, [2, 37, 11], true),
  ];
  const fp = await nodesFootprint(nodes, undefined, false);
  assert.deepEqual(fp.bad, []);
  for (
    const k of [
      "prep_x7",
      "conv_gemm7",
      "conv_im2row",
      "gemm_cols7",
      "gemm_rows7",
      "prep_k4",
      "prep_k4_rows",
      "gemm_k4_rows",
      "conv_k4",
      "qadd",
      "qadd_lut",
    ]
  ) {
    assert.ok(fp.calls.get(k), `${k} split (${[...fp.calls]})`);
  }
});

Deno.test("wasm footprint: direct convs (odd rows: overlapping tails, OW < 8; residual; strided; packed)", async () => {
  const r = new Rng(13);
  const nodes: TestNode[] = [
    convNode(r, { N: 2, C: 16, M: 16, H: 28, W: 28, k: 3, s: 1, res: true }), // ResNet-14
    convNode(r, { N: 1, C: 5, M: 9, H: 13, W: 11, k: 3, s: 1 }), // OW 11: pair + group
    convNode(r, { N: 2, C: 32, M: 35, H: 14, W: 14, k: 3, s: 1, res: true }), // 2 pairs
    convNode(r, { N: 1, C: 7, M: 13, H: 9, W: 7, k: 3, s: 1, res: true }), // OW 7 < 8
    convNode(r, { N: 1, C: 3, M: 6, H: 6, W: 3, k: 5, s: 1 }), // OW 3 < 4
    convNode(r, { N: 2, C: 16, M: 32, H: 28, W: 28, k: 3, s: 2, res: true }), // phase planes
    convNode(r, { N: 1, C: 32, M: 19, H: 15, W: 13, k: 3, s: 2 }), // OW 7
    convNode(r, { N: 2, C: 16, M: 32, H: 28, W: 27, k: 1, s: 2, res: true }), // downsample
    convNode(r, { N: 1, C: 3, M: 11, H: 33, W: 31, k: 3, s: 2 }), // stem, channel tail
    convNode(r, { N: 2, C: 1, M: 16, H: 28, W: 28, k: 3, s: 1, res: true }), // packed taps
    convNode(r, { N: 1, C: 1, M: 9, H: 19, W: 37, k: 3, s: 2 }), // packed, stride 2
  ];
  // every strided conv on the direct path (by default only some)
  convOptions.dcStrideAll = true;
  const fp = await nodesFootprint(nodes).finally(() => convOptions.dcStrideAll = false);
  assert.deepEqual(fp.bad, []);
  for (const k of ["prep_dc", "prep_dc1", "conv_dc"]) {
    assert.ok(fp.calls.get(k), `${k} split (${[...fp.calls]})`);
  }
});

function dwNode(
  r: Rng,
  o: { N: number; C: number; H: number; W: number; k: number; s: number },
): TestNode {
  const { N, C, H, W, k, s } = o;
  const w = new Int8Array(C * k * k).map(() => r.int(-128, 127));
  return {
    op: "QConv",
    attrs: {
      kernel_shape: [k, k],
      pads: [1, 1, 1, 1],
      strides: [s, s],
      group: C,
      x_zp: r.int(-20, 20),
      // shifts −8..−11 (2^-k scales): several shift groups, partial ones
      ...mults(r, C, 2 ** r.int(0, 6) * k * k),
      dtype: "int8",
      y_zp: r.int(-10, 10),
    } as TestNode["attrs"],
    inputs: [
      { t: randQ(r, "int8", [N, C, H, W]) },
      { t: { dtype: "int8", shape: [C, 1, k, k], data: w }, constant: true },
      undefined,
    ],
  };
}

Deno.test("wasm footprint: depthwise convs (channel groups by shift; per channel)", async () => {
  const r = new Rng(17);
  const nodes: TestNode[] = [
    dwNode(r, { N: 2, C: 37, H: 7, W: 7, k: 3, s: 1 }), // dwconv8: partial groups
    dwNode(r, { N: 1, C: 67, H: 14, W: 13, k: 3, s: 2 }),
    dwNode(r, { N: 1, C: 21, H: 9, W: 11, k: 5, s: 1 }), // the item loop
    dwNode(r, { N: 1, C: 13, H: 40, W: 33, k: 3, s: 1 }), // map > 1024: dwconv
  ];
  const fp = await nodesFootprint(nodes);
  assert.deepEqual(fp.bad, []);
  for (const k of ["dwconv8", "dwconv"]) {
    assert.ok(fp.calls.get(k), `${k} split (${[...fp.calls]})`);
  }
});

Deno.test("wasm footprint: QMatMul, plain and with its head Transposes folded (strided rows)", async () => {
  const r = new Rng(17);
  const q = (shape: number[]): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { dtype: "uint8", shape, data: new Uint8Array(n).map(() => r.int(0, 255)) };
  };
  const m = quantizeMultiplier(0.3 / (16 * 255));
  const attrs = { a_zp: 120, b_zp: 131, mult: m.mult, shift: m.shift, y_zp: 128, dtype: "uint8" };
  const tr = (perm: number[], t: Tensor): TestNode => ({
    op: "Transpose",
    domain: "",
    attrs: { perm },
    inputs: [{ t }],
    internal: true,
  });
  const nodes: TestNode[] = [
    // plain: 3 heads of 13 × 9 × 11
    { op: "QMatMul", attrs, inputs: [{ t: q([3, 13, 9]) }, { t: q([3, 9, 11]) }] },
    // [1, T, H, D] split into heads (A), kᵀ (B, unit stride along K), the heads merged back
    tr([0, 2, 1, 3], q([1, 21, 3, 16])),
    tr([0, 2, 3, 1], q([1, 21, 3, 16])),
    { op: "QMatMul", attrs, inputs: [undefined, undefined], from: { 0: 1, 1: 2 }, internal: true },
    tr([0, 2, 1, 3], q([1, 21, 3, 16])),
    { op: "QMatMul", attrs, inputs: [undefined, undefined], from: { 0: 3, 1: 4 }, internal: true },
    {
      op: "Transpose",
      domain: "",
      attrs: { perm: [0, 2, 1, 3] },
      inputs: [undefined],
      from: { 0: 5 },
    },
  ];
  const folded = fusedCounts.transpose;
  const fp = await nodesFootprint(nodes);
  assert.equal(fusedCounts.transpose - folded, 4, "the head split, kᵀ, v and the merge fold");
  assert.deepEqual(fp.bad, []);
  for (const k of ["qmatmul_prep4_par", "qmatmul_rows4"]) {
    assert.ok((fp.calls.get(k) ?? 0) >= 3, `${k} split (${[...fp.calls]})`);
  }
});
