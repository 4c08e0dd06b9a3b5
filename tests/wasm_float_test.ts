/**
 * The wasm kernels of the ViT path against kernels/ref: QMatMul (bit-exact; odd M, K, N,
 * int8/uint8, batched and shared B), Transpose and float Add/Sub/Mul/Div with
 * broadcasting (bit-exact: IEEE f32 operations), and the f32 SIMD float islands —
 * Softmax, LayerNormalization, Erf — within the stated tolerance
 * |wasm − ref| <= 1e-5 · (1 + |ref|). Both builds, 1 and 2 threads.
 */
import assert from "node:assert/strict";
import {
  compareWithRef,
  nodesGraph,
  Rng,
  TEST_CONFIGS,
  type TestNode,
} from "../kernels/wasm/testing.ts";
import { quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { fusedCounts } from "../kernels/wasm/fuse.ts";

type Q = "int8" | "uint8";
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function randQ(r: Rng, dtype: Q, shape: number[]): Tensor {
  const n = prod(shape);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = dtype === "int8" ? r.int(-128, 127) : r.int(0, 255);
  return { dtype, shape, data };
}

function randF(r: Rng, shape: number[], lo: number, hi: number): Tensor {
  const data = new Float32Array(prod(shape));
  for (let i = 0; i < data.length; i++) data[i] = r.float(lo, hi);
  return { dtype: "float32", shape, data };
}

async function check(name: string, nodes: TestNode[], tol: number): Promise<void> {
  const { graph, feeds } = nodesGraph(nodes);
  for (const cfg of TEST_CONFIGS) {
    const { mismatches, compiled } = await compareWithRef(
      graph,
      feeds,
      { ...cfg, splitAll: true },
      tol,
    );
    assert.deepEqual(compiled.fallbacks, [], `${name}: every node must run on wasm`);
    assert.deepEqual(
      mismatches,
      [],
      `${name} ${cfg.build} ${cfg.threads} thread(s): ${JSON.stringify(mismatches.slice(0, 3))}`,
    );
  }
}

Deno.test("wasm QMatMul: odd M, K, N, int8/uint8, batched and shared B (bit-exact)", async () => {
  const r = new Rng(71);
  const nodes: TestNode[] = [];
  for (let i = 0; i < 16; i++) {
    const adt: Q = r.pick(["int8", "uint8"] as const), bdt: Q = r.pick(["int8", "uint8"] as const);
    const ydt: Q = r.pick(["int8", "uint8"] as const);
    const M = r.pick([1, 2, 7, 8, 9, 50]), K = r.pick([1, 3, 8, 16, 17, 64, 100]);
    const N = r.pick([1, 5, 16, 50, 67]);
    const batch = r.pick([[], [3], [2, 2]]);
    const shared = batch.length > 0 && r.u32() % 3 === 0;
    const q = quantizeMultiplier(r.float(0.2, 2) / (Math.sqrt(K) * 255));
    nodes.push({
      op: "QMatMul",
      attrs: {
        a_zp: adt === "int8" ? r.int(-128, 127) : r.int(0, 255),
        b_zp: bdt === "int8" ? r.int(-128, 127) : r.int(0, 255),
        mult: q.mult,
        shift: q.shift,
        y_zp: ydt === "int8" ? r.int(-20, 20) : r.int(100, 150),
        dtype: ydt,
        ...(r.u32() % 2 ? { qmin: ydt === "int8" ? -100 : 10 } : {}),
      },
      inputs: [
        { t: randQ(r, adt, [...batch, M, K]) },
        { t: randQ(r, bdt, shared ? [K, N] : [...batch, K, N]) },
      ],
    });
  }
  await check("QMatMul", nodes, 0);
});

Deno.test("wasm QMatMul (k2 layout): attention shapes, odd M/K/N, multipliers above 1, extreme codes, long K", async () => {
  const r = new Rng(73);
  const nodes: TestNode[] = [];
  const mm = (A: Tensor, B: Tensor, K: number, zps: [number, number], big = false): TestNode => {
    const ydt: Q = r.pick(["int8", "uint8"] as const);
    const q = quantizeMultiplier(big ? r.float(1, 9) : r.float(0.2, 2) / (Math.sqrt(K) * 255));
    return {
      op: "QMatMul",
      attrs: { a_zp: zps[0], b_zp: zps[1], mult: q.mult, shift: q.shift, y_zp: 0, dtype: ydt },
      inputs: [{ t: A }, { t: B }],
    };
  };
  for (const [M, K, N] of [[197, 64, 197], [197, 197, 64], [67, 1, 9], [9, 33, 67], [8, 5, 3]]) {
    const adt: Q = r.pick(["int8", "uint8"] as const), bdt: Q = r.pick(["int8", "uint8"] as const);
    nodes.push(mm(randQ(r, adt, [3, M, K]), randQ(r, bdt, [3, K, N]), K, [
      adt === "int8" ? r.int(-128, 127) : r.int(0, 255),
      bdt === "int8" ? r.int(-128, 127) : r.int(0, 255),
    ]));
  }
  // odd shapes (K odd: a half-filled last pair; N off the 4-column block), shared B, and a
  // multiplier above 1 (a saturating left shift)
  for (let i = 0; i < 12; i++) {
    const M = r.pick([8, 9, 13, 31, 67]), K = r.pick([1, 2, 3, 7, 9, 64, 197]);
    const N = r.pick([1, 2, 3, 5, 8, 13, 197]), batch = r.pick([[], [2], [3]]);
    const shared = batch.length > 0 && r.u32() % 3 === 0;
    const adt: Q = r.pick(["int8", "uint8"] as const), bdt: Q = r.pick(["int8", "uint8"] as const);
    const zp = (dt: Q) => dt === "int8" ? r.int(-128, 127) : r.int(0, 255);
    nodes.push(mm(
      randQ(r, adt, [...batch, M, K]),
      randQ(r, bdt, shared ? [K, N] : [...batch, K, N]),
      K,
      [zp(adt), zp(bdt)],
      i % 4 === 0,
    ));
  }
  // the largest products: uint8 255 (zp 0) × int8 −128 (zp 0) and 127 (zp −128), K = 4096
  for (const b of [-128, 127]) {
    const A = {
      dtype: "uint8",
      shape: [9, 4096],
      data: new Uint8Array(9 * 4096).fill(255),
    } as Tensor;
    const B = { dtype: "int8", shape: [4096, 5], data: new Int8Array(4096 * 5).fill(b) } as Tensor;
    nodes.push(mm(A, B, 4096, [0, b === 127 ? -128 : 0]));
  }
  await check("QMatMul k2", nodes, 0);
});

Deno.test("wasm QMatMul with folded Transposes: heads split by Transpose (A, B row- or column-strided), output Transpose, shared and unfoldable ones", async () => {
  const r = new Rng(75);
  const nodes: TestNode[] = [];
  const zp = (dt: Q) => dt === "int8" ? r.int(-128, 127) : r.int(0, 255);
  const tr = (perm: number[], from: number | Tensor, internal = true): TestNode => ({
    op: "Transpose",
    domain: "",
    attrs: { perm },
    inputs: [typeof from === "number" ? undefined : { t: from }],
    ...(typeof from === "number" ? { from: { 0: from } } : {}),
    internal,
  });
  const mm = (a: number, b: number, adt: Q, bdt: Q, K: number, internal: boolean): TestNode => {
    const q = quantizeMultiplier(r.float(0.2, 2) / (Math.sqrt(K) * 255));
    const ydt: Q = r.pick(["int8", "uint8"] as const);
    return {
      op: "QMatMul",
      attrs: { a_zp: zp(adt), b_zp: zp(bdt), mult: q.mult, shift: q.shift, y_zp: 3, dtype: ydt },
      inputs: [undefined, undefined],
      from: { 0: a, 1: b },
      internal,
    };
  };
  let expect = 0;
  // [1, T, H, D] projections: scores = (q heads) × (k heads)ᵀ, out = scores × (v heads),
  // then back to [1, T, H, D]: 4 Transposes folded per chain
  for (const [T, H, D] of [[50, 4, 16], [13, 3, 5], [9, 1, 24], [17, 2, 8], [8, 2, 33]]) {
    const dt = (): Q => r.pick(["int8", "uint8"] as const);
    const qd = dt(), kd = dt(), vd = dt();
    const i0 = nodes.length;
    nodes.push(tr([0, 2, 1, 3], randQ(r, qd, [1, T, H, D]))); // i0: q heads [1,H,T,D]
    nodes.push(tr([0, 2, 3, 1], randQ(r, kd, [1, T, H, D]))); // i0+1: kᵀ [1,H,D,T]
    nodes.push(tr([0, 2, 1, 3], randQ(r, vd, [1, T, H, D]))); // i0+2: v heads [1,H,T,D]
    const s = mm(i0, i0 + 1, qd, kd, D, true); // i0+3: scores [1,H,T,T]
    nodes.push(s);
    nodes.push(mm(i0 + 3, i0 + 2, s.attrs.dtype as Q, vd, T, true)); // i0+4: [1,H,T,D]
    nodes.push(tr([0, 2, 1, 3], i0 + 4, false)); // i0+5: [1,T,H,D], a graph output
    expect += 4; // q, kᵀ, v, and the output Transpose (scores × v writes it in place)
  }
  // one kᵀ read by two QMatMuls (folded by both, then skipped), and a Transpose that is
  // also a graph output (not folded: it must run)
  {
    const i0 = nodes.length;
    nodes.push(tr([0, 2, 1, 3], randQ(r, "uint8", [1, 11, 2, 7]), false)); // i0: output too
    nodes.push(tr([0, 2, 3, 1], randQ(r, "int8", [1, 11, 2, 7]))); // i0+1: shared kᵀ
    nodes.push(mm(i0, i0 + 1, "uint8", "int8", 7, false));
    nodes.push(tr([0, 2, 1, 3], randQ(r, "uint8", [1, 11, 2, 7]))); // i0+3
    nodes.push(mm(i0 + 3, i0 + 1, "uint8", "int8", 7, false));
    expect += 3; // kᵀ twice, i0+3 once
  }
  const before = fusedCounts.transpose;
  await check("QMatMul folded Transposes", nodes, 0);
  assert.equal(fusedCounts.transpose - before, expect * TEST_CONFIGS.length);
});

Deno.test("wasm Transpose, Clip and float Add/Sub/Mul/Div with broadcasting (bit-exact)", async () => {
  const r = new Rng(72);
  const nodes: TestNode[] = [
    {
      op: "Transpose",
      domain: "",
      attrs: { perm: [0, 2, 1, 3] },
      inputs: [{ t: randQ(r, "uint8", [2, 5, 3, 7]) }],
    },
    {
      op: "Transpose",
      domain: "",
      attrs: { perm: [0, 2, 3, 1] },
      inputs: [{ t: randQ(r, "int8", [1, 9, 4, 16]) }],
    },
    { op: "Transpose", domain: "", attrs: {}, inputs: [{ t: randF(r, [3, 5, 7], -1, 1) }] },
    // Pad, constant mode: a class-token slot, all axes with a value, 8-bit, merged runs
    ...([
      [randF(r, [1, 5, 7], -1, 1), [0, 1, 0, 0, 0, 0], undefined],
      [randF(r, [2, 3, 4], -1, 1), [1, 0, 2, 0, 3, 1], 1.5],
      [randQ(r, "int8", [3, 5]), [0, 2, 0, 1], -7],
      [randQ(r, "uint8", [2, 3, 6]), [0, 1, 0, 1, 2, 0], undefined],
    ] as [Tensor, number[], number | undefined][]).map(([t, pads, v]): TestNode => ({
      op: "Pad",
      domain: "",
      attrs: {},
      inputs: [
        { t },
        {
          t: { dtype: "int64", shape: [pads.length], data: Float64Array.from(pads) },
          constant: true,
        },
        ...(v === undefined ? [] : [{
          t: t.dtype === "float32"
            ? { dtype: "float32" as const, shape: [], data: Float32Array.of(v) }
            : { dtype: "int8" as const, shape: [], data: Int8Array.of(v) },
          constant: true,
        }]),
      ],
    })),
    // the last axis stays last: contiguous runs (4-byte elements, runs cut by the split)
    {
      op: "Transpose",
      domain: "",
      attrs: { perm: [1, 0, 2] },
      inputs: [{ t: randF(r, [3, 5, 7], -1, 1) }],
    },
  ];
  const shapes: [number[], number[]][] = [
    [[2, 50, 64], [2, 50, 64]],
    [[2, 50, 64], [1, 50, 64]],
    [[3, 7, 13], []],
    [[1], [5, 9]],
    [[4, 33], [33]],
  ];
  for (const op of ["Add", "Sub", "Mul", "Div"]) {
    for (const [sa, sb] of shapes) {
      nodes.push({
        op,
        domain: "",
        attrs: {},
        inputs: [{ t: randF(r, sa, -3, 3) }, {
          t: randF(r, sb, 0.5, 2),
          constant: r.u32() % 2 === 0,
        }],
      });
    }
  }
  const cl = randF(r, [3, 1001], -8, 8);
  cl.data.set([NaN, Infinity, -Infinity, 6, 0], 0);
  const scalar = (v: number) => ({
    t: { dtype: "float32", shape: [], data: new Float32Array([v]) } as Tensor,
    constant: true,
  });
  nodes.push({ op: "Clip", domain: "", attrs: {}, inputs: [{ t: cl }, scalar(0), scalar(6)] });
  nodes.push({ op: "Clip", domain: "", attrs: {}, inputs: [{ t: cl }, undefined, scalar(0.1)] });
  nodes.push({
    op: "Transpose",
    domain: "",
    attrs: { perm: [2, 0, 1] },
    inputs: [{ t: randQ(r, "uint8", [197, 3, 64]) }],
  });
  await check("transpose/binary/clip", nodes, 0);
});

Deno.test("wasm float islands: Softmax, LayerNormalization, Erf within 1e-5·(1+|ref|)", async () => {
  const r = new Rng(73);
  const nodes: TestNode[] = [];
  for (const L of [1, 3, 4, 5, 16, 50, 67]) {
    nodes.push({
      op: "Softmax",
      domain: "",
      attrs: { axis: -1 },
      inputs: [{ t: randF(r, [2, 3, L], -30, 30) }],
    });
    const g = randF(r, [L], 0.5, 2), b = randF(r, [L], -1, 1);
    nodes.push({
      op: "LayerNormalization",
      domain: "",
      attrs: { axis: -1, epsilon: 1e-5 },
      inputs: [
        { t: randF(r, [5, L], -4, 9) },
        { t: g, constant: true },
        L % 2 ? { t: b, constant: true } : undefined,
      ],
    });
  }
  const e = randF(r, [4099], -6, 6);
  e.data.set([0, -0, 1e-8, -1e-8, 10, -10, 3.5, -3.5], 0);
  nodes.push({ op: "Erf", domain: "", attrs: {}, inputs: [{ t: e }] });
  await check("float islands", nodes, 1e-5);
});
