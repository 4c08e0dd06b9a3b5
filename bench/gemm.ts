/**
 * `deno task bench:gemm [--threads 1,2] [--runs 20] [--m 256 --n 1024 --k 1024] [--json]`
 *
 * GEMM microbenchmark of the wasm kernels against onnxruntime-web in the same process,
 * same shape: edgeq int8 GEMM (activation packing + GEMM + requantize epilogue), the
 * measured peak of a pure dot-product loop of the same build (the ceiling), ORT f32
 * MatMul and ORT MatMulInteger (u8 × s8). One child process per thread count (ORT fixes
 * its threads per process); warm-up, then N timed runs: median and min–max. Rates are
 * GOP/s with 2·M·N·K operations per GEMM.
 * @module
 */
import { parseArgs } from "node:util";
import onnx from "onnx-proto";
import * as ort from "onnxruntime-web";
import { type BuildName, instantiate } from "../kernels/wasm/instance.ts";
import { PARKED_INLINE_GRAINS, ThreadPool } from "../kernels/wasm/threads.ts";
import { Arena } from "../kernels/wasm/memory.ts";
import { pack } from "../runtime/format/layouts.ts";

interface Row {
  name: string;
  threads: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  gops: number;
}

function stats(name: string, threads: number, ops: number, times: number[]): Row {
  const s = [...times].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return {
    name,
    threads,
    medianMs: med,
    minMs: s[0],
    maxMs: s[s.length - 1],
    gops: ops / med / 1e6,
  };
}

async function timeIt(runs: number, warmup: number, f: () => unknown): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return t;
}

const P = onnx.onnx;

function matmulModel(M: number, K: number, N: number, integer: boolean, b: ArrayLike<number>) {
  const T = P.TensorProto.DataType;
  const vi = (name: string, dims: number[], t: number) =>
    P.ValueInfoProto.create({
      name,
      type: P.TypeProto.create({
        tensorType: P.TypeProto.Tensor.create({
          elemType: t,
          shape: P.TensorShapeProto.create({
            dim: dims.map((d) => P.TensorShapeProto.Dimension.create({ dimValue: d })),
          }),
        }),
      }),
    });
  const init = integer
    ? P.TensorProto.create({
      name: "B",
      dims: [K, N],
      dataType: T.INT8,
      rawData: new Uint8Array(Int8Array.from(b).buffer),
    })
    : P.TensorProto.create({
      name: "B",
      dims: [K, N],
      dataType: T.FLOAT,
      floatData: Array.from(b),
    });
  const graph = P.GraphProto.create({
    name: "mm",
    node: [
      P.NodeProto.create({
        opType: integer ? "MatMulInteger" : "MatMul",
        input: ["A", "B"],
        output: ["Y"],
      }),
    ],
    input: [vi("A", [M, K], integer ? T.UINT8 : T.FLOAT)],
    output: [vi("Y", [M, N], integer ? T.INT32 : T.FLOAT)],
    initializer: [init],
  });
  const model = P.ModelProto.create({
    irVersion: 8,
    opsetImport: [P.OperatorSetIdProto.create({ domain: "", version: 13 })],
    graph,
  });
  return P.ModelProto.encode(model).finish();
}

async function child(
  threads: number,
  M: number,
  N: number,
  K: number,
  runs: number,
  build?: BuildName,
) {
  const rows: Row[] = [];
  const ops = 2 * M * N * K;
  const warm = 3;
  // ---- edgeq int8
  const inst = instantiate({ pages: 64, build });
  const arena = new Arena(inst.memory);
  const k = inst.k as unknown as Record<string, (...a: number[]) => number>;
  const pool = threads > 1 ? await ThreadPool.start(inst, threads) : undefined;
  const par = (fn: string, args: number[], total: number, grain: number) =>
    pool ? pool.run(fn, args, total, grain) : k[fn](...args, 0, total, 0);
  const Kp = Math.ceil(K / 8) * 8, rb = 2 * Kp;
  const x = arena.alloc(M * K), xa = arena.alloc(M * rb), wk = arena.alloc(N * K);
  const panel = arena.alloc(N * rb), colsum = arena.alloc(N * 4), y = arena.alloc(M * N);
  const mult = arena.i32(new Array(N).fill(1 << 30)), shift = arena.i32(new Array(N).fill(-12));
  const bytes = () => new Uint8Array(inst.memory.buffer);
  for (let i = 0; i < M * K; i++) bytes()[x + i] = (i * 7919) & 255;
  const wd = new Int8Array(inst.memory.buffer, wk, N * K);
  for (let i = 0; i < N * K; i++) wd[i] = ((i * 104729) % 255) - 127;
  k.pack_w(wk, K, Kp, panel, colsum, 0, N);
  const ep = arena.i32([
    0,
    0,
    0,
    mult,
    shift,
    0,
    0,
    255,
    y,
    N,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  rows.push(stats(
    `edgeq int8 GEMM, split path: 8-bit weights (${inst.build})`,
    threads,
    ops,
    await timeIt(runs, warm, () => {
      par("pack_rows", [x, 0, K, Kp, xa], M, 16);
      par("gemm_rows", [xa, rb, panel, rb, Kp / 8, ep, 0, N], M, 4);
    }),
  ));
  // ---- int8, 7-bit weights in -64..63: the s8 layout (1 byte per element, one dot per 16)
  const Kp7 = Math.ceil(K / 16) * 16;
  const w7 = arena.alloc(N * K), panel7 = arena.alloc(N * Kp7), xa7 = arena.alloc(M * Kp7);
  const wd7 = new Int8Array(inst.memory.buffer, w7, N * K);
  for (let i = 0; i < N * K; i++) wd7[i] = ((i * 104729) % 127) - 63;
  k.pack_w7(w7, K, Kp7, panel7, 0, N);
  rows.push(stats(
    `edgeq int8 GEMM, s8 path: 7-bit weights (${inst.build})`,
    threads,
    ops,
    await timeIt(runs, warm, () => {
      par("pack_rows7", [x, 0, K, Kp7, xa7], M, 16);
      par("gemm_rows7", [xa7, Kp7, panel7, Kp7, Kp7 / 16, ep, 0, N], M, 4);
    }),
  ));
  // ---- 4-bit / 2-bit weights: the packed panel is decoded per call (as in the backend)
  for (const [layout, bits, lo, hi] of [["i4", 4, -8, 7], ["i2", 2, -2, 1]] as const) {
    const v = Int8Array.from({ length: N * K }, (_, i) => lo + ((i * 104729) % (hi - lo + 1)));
    const packed = pack(layout, v, [N, K]);
    // sub-byte values fit -64..63: the backend decodes them into the s8 layout
    const src = arena.put(packed), dec = arena.alloc(N * Kp7);
    rows.push(
      stats(
        `edgeq ${layout} weights GEMM, s8 path (${inst.build})`,
        threads,
        ops,
        await timeIt(runs, warm, () => {
          par("decode_w7", [bits, src, packed.length / N, K, Kp7, dec], N, 4);
          par("pack_rows7", [x, 0, K, Kp7, xa7], M, 16);
          par("gemm_rows7", [xa7, Kp7, dec, Kp7, Kp7 / 16, ep, 0, N], M, 4);
        }),
      ),
    );
  }
  // ---- binary: b1 weights × ±1 activations (mode 1) and × 2-bit codes (mode 2)
  const vw = Math.ceil(K / 128), pb = vw * 16;
  const wb = arena.alloc(N * pb), wsum = arena.alloc(N * 4);
  const wbits = new Uint8Array(inst.memory.buffer, wb, N * pb);
  for (let i = 0; i < N * pb; i++) wbits[i] = (i * 2654435761) >>> 24;
  const ab = arena.alloc(M * 2 * pb), pop = arena.alloc(M * 8), bad = arena.alloc(16);
  const tmp = arena.alloc(128 * threads, 64), xb = arena.alloc(M * K);
  for (const [mode, name] of [[1, "±1"], [2, "2-bit"]] as const) {
    const xv = new Int8Array(inst.memory.buffer, xb, M * K);
    for (let i = 0; i < M * K; i++) xv[i] = mode === 1 ? ((i * 7919) & 1 ? 1 : -1) : (i * 7919) & 3;
    rows.push(
      stats(
        `edgeq binary GEMM, b1 × ${name} activations`,
        threads,
        ops,
        await timeIt(runs, warm, () => {
          par("pack_bits", [xb, 1, K, vw, mode, ab, pop, bad], M, 16);
          par("bgemm_rows", [ab, pop, wb, wsum, vw, mode, N, ep, tmp], M, 2);
        }),
      ),
    );
  }
  // ---- peak: a pure dot loop, 8 accumulators, operands in L1 (4 KiB panels), in items of
  // 64 reps, 2·PARKED_INLINE_GRAINS per thread: a call of fewer items runs on the caller
  // alone while a worker is parked (threads.ts); one item per thread measured 1 thread
  const n = 64,
    reps = 64,
    items = 2 * PARKED_INLINE_GRAINS * threads,
    pa = arena.alloc(4 * n * 16),
    pw = arena.alloc(4 * n * 16),
    out = arena.alloc(64);
  const dots = 8 * n * reps * items;
  const peakT = await timeIt(runs, warm, () => par("peak_par", [pa, pw, n, reps, out], items, 1));
  // A relaxed dot is 16 byte products; the baseline's i16 dot is 8.
  const perDot = inst.build === "baseline" ? 8 : 16;
  rows.push(
    stats(`peak dot loop (${inst.build}, ${perDot} MAC/instr)`, threads, 2 * perDot * dots, peakT),
  );
  pool?.close();
  // ---- onnxruntime-web
  ort.env.wasm.numThreads = threads;
  const bf = Float32Array.from({ length: K * N }, (_, i) => (((i * 104729) % 255) - 127) / 127);
  const af = Float32Array.from({ length: M * K }, (_, i) => ((i * 7919) & 255) / 255);
  const s1 = await ort.InferenceSession.create(matmulModel(M, K, N, false, bf));
  const fa = new ort.Tensor("float32", af, [M, K]);
  rows.push(
    stats(
      "onnxruntime-web f32 MatMul",
      threads,
      ops,
      await timeIt(runs, warm, () => s1.run({ A: fa })),
    ),
  );
  const bi = Int8Array.from({ length: K * N }, (_, i) => ((i * 104729) % 255) - 127);
  const s2 = await ort.InferenceSession.create(matmulModel(M, K, N, true, bi));
  const ia = new ort.Tensor("uint8", Uint8Array.from(af, (v) => Math.round(v * 255)), [M, K]);
  rows.push(
    stats(
      "onnxruntime-web MatMulInteger u8×s8",
      threads,
      ops,
      await timeIt(runs, warm, () => s2.run({ A: ia })),
    ),
  );
  await s1.release();
  await s2.release();
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      threads: { type: "string", default: "1,2" },
      runs: { type: "string", default: "20" },
      m: { type: "string", default: "256" },
      n: { type: "string", default: "1024" },
      k: { type: "string", default: "1024" },
      build: { type: "string" },
      json: { type: "boolean", default: false },
      child: { type: "string" },
    },
  });
  const M = Number(values.m),
    N = Number(values.n),
    K = Number(values.k),
    runs = Number(values.runs);
  const build = values.build as BuildName | undefined;
  if (values.child) {
    console.log(JSON.stringify(await child(Number(values.child), M, N, K, runs, build)));
    Deno.exit(0);
  }
  const all: Row[] = [];
  for (const t of values.threads.split(",").map(Number)) {
    const args = [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--child",
      String(t),
      "--m",
      values.m,
      "--n",
      values.n,
      "--k",
      values.k,
      "--runs",
      values.runs,
      ...(build ? ["--build", build] : []),
    ];
    const r = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
    if (r.code !== 0) throw new Error(`bench child (${t} threads) failed`);
    const text = new TextDecoder().decode(r.stdout).trim().split("\n").pop()!;
    all.push(...JSON.parse(text));
  }
  if (values.json) console.log(JSON.stringify({ M, N, K, runs, rows: all }, null, 1));
  else {
    console.log(
      `GEMM ${M}x${N}x${K} (2·M·N·K ops), ${runs} timed runs after 3 warm-up, median [min–max]`,
    );
    console.log(
      "| kernel | threads | median ms | min–max ms | GOP/s | % of peak |\n|---|---:|---:|---:|---:|---:|",
    );
    for (const r of all) {
      // of the same thread count's pure dot loop (the int8 ceiling; not for the bit GEMMs)
      const peak = all.find((p) => p.threads === r.threads && p.name.startsWith("peak"));
      const pct = peak && !r.name.includes("binary")
        ? `${(100 * r.gops / peak.gops).toFixed(0)}%`
        : "";
      console.log(
        `| ${r.name} | ${r.threads} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)}–${
          r.maxMs.toFixed(2)
        } | ${r.gops.toFixed(1)} | ${pct} |`,
      );
    }
  }
}
