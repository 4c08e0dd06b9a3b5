/**
 * The wasm kernels of the integer transformer islands against kernels/ref, bit for bit:
 * QLut (byte table), QSoftmax (exact u32 division) and QLayerNorm (integer square root,
 * exact division, per-channel requantization), on random rows of odd lengths 1..67 plus
 * the ViT sizes, int8 and uint8 codes, the three builds, 1 and 2 threads (every call split).
 */
import assert from "node:assert/strict";
import { compareWithRef, nodesGraph, Rng, type TestNode } from "../kernels/wasm/testing.ts";
import { compileWasm } from "../kernels/wasm/compile.ts";
import { quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import { layerNormShift } from "../kernels/ref/quant/qlayernorm.ts";
import { EdgeqError } from "../runtime/errors.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { Attrs } from "../runtime/graph.ts";

type Q = "int8" | "uint8";
const CONFIGS = [
  { build: "baseline" as const, threads: 1 },
  { build: "relaxed" as const, threads: 1 },
  { build: "baseline" as const, threads: 2 },
  { build: "relaxed" as const, threads: 2 },
  { build: "relaxed-pair" as const, threads: 1 },
  { build: "relaxed-pair" as const, threads: 2 },
];
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const LENS = [1, 2, 3, 5, 15, 16, 17, 31, 33, 64, 67];

/** Random codes; a row in 4 is narrow (a few neighbouring codes), like real activations. */
function randQ(r: Rng, dtype: Q, shape: number[]): Tensor {
  const n = prod(shape), L = shape[shape.length - 1] || 1;
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  const [lo, hi] = dtype === "int8" ? [-128, 127] : [0, 255];
  for (let base = 0; base < n; base += L) {
    const c = r.int(lo, hi), w = r.u32() % 4 === 0 ? r.int(0, 6) : 255;
    for (let j = 0; j < L && base + j < n; j++) {
      data[base + j] = Math.max(lo, Math.min(hi, w === 255 ? r.int(lo, hi) : c + r.int(-w, w)));
    }
  }
  return { dtype, shape, data };
}

function shapeFor(r: Rng, n: number): number[] {
  return r.pick([[n], [r.int(1, 9), n], [1, r.int(1, 5), r.int(1, 7), n]]);
}

async function check(name: string, nodes: TestNode[]): Promise<void> {
  const { graph, feeds } = nodesGraph(nodes);
  for (const cfg of CONFIGS) {
    const { mismatches, compiled } = await compareWithRef(graph, feeds, { ...cfg, splitAll: true });
    assert.deepEqual(compiled.fallbacks, [], `${name}: every node must run on wasm`);
    assert.deepEqual(
      mismatches,
      [],
      `${name} ${cfg.build} ${cfg.threads} thread(s): ${JSON.stringify(mismatches.slice(0, 3))}`,
    );
  }
}

Deno.test("wasm QLut: odd lengths (SIMD body and scalar tail), int8/uint8 in and out", async () => {
  const r = new Rng(501);
  const nodes: TestNode[] = [];
  for (const n of [...LENS, 100, 197 * 3]) {
    const xdt: Q = r.pick(["int8", "uint8"] as const), ydt: Q = r.pick(["int8", "uint8"] as const);
    const [lo, hi] = ydt === "int8" ? [-128, 127] : [0, 255];
    const table = Array.from({ length: 256 }, () => r.int(lo, hi));
    nodes.push({
      op: "QLut",
      attrs: { table, dtype: ydt },
      inputs: [{ t: randQ(r, xdt, shapeFor(r, n)) }],
    });
  }
  await check("QLut", nodes);
});

function expTable(r: Rng): number[] {
  const kind = r.int(0, 3);
  const s = r.float(0.005, 0.3);
  return Array.from({ length: 256 }, (_, d) => {
    if (kind === 0) return Math.min(65536, Math.round(65536 * Math.exp(-s * d)));
    if (kind === 1) return d === 0 ? r.int(1, 65536) : r.int(0, 65536); // any valid table
    if (kind === 3) return r.int(1, 3); // small S: the rounding term floor(S/2) matters
    return 65536; // S at its largest: 2^16 · N
  });
}

Deno.test("wasm QSoftmax: rows of odd lengths, any valid table, r up to 32767", async () => {
  const r = new Rng(502);
  const nodes: TestNode[] = [];
  for (const n of [...LENS, 197, 300]) {
    const xdt: Q = r.pick(["int8", "uint8"] as const);
    nodes.push({
      op: "QSoftmax",
      attrs: { exp_table: expTable(r), r: r.pick([1, 255, r.int(2, 32767), 32767]) },
      inputs: [{ t: randQ(r, xdt, shapeFor(r, n)) }],
    });
  }
  // Ties of the rounding: S = 3, e = 1, r ≡ 1 (mod 3).
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: [1, ...new Array(255).fill(7)], r: 256 },
    inputs: [{ t: { dtype: "int8", shape: [2, 3], data: Int8Array.from([5, 5, 5, -9, -9, -9]) } }],
  });
  // and in the 4-lane body: S = 5, e = 1, r ≡ 2 (mod 5)
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: [1, ...new Array(255).fill(7)], r: 257 },
    inputs: [{
      t: { dtype: "uint8", shape: [2, 5], data: Uint8Array.from([9, 9, 9, 9, 9, 0, 0, 0, 0, 0]) },
    }],
  });
  // The longest row with every e = 2^16: S = 2^31, a_i close to 2^32.
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: new Array(256).fill(65536), r: 32767 },
    inputs: [{ t: randQ(r, "uint8", [1, 32768]) }],
  });
  await check("QSoftmax", nodes);
});

Deno.test("wasm QSoftmax swizzle gather: rows spanning 1..256 codes (1..16 sub-tables), repeated maxima", async () => {
  const r = new Rng(511);
  const nodes: TestNode[] = [];
  for (const n of [16, 31, 32, 33, 48, 50, 64, 65, 197]) {
    const xdt: Q = r.pick(["int8", "uint8"] as const);
    const [lo, hi] = xdt === "int8" ? [-128, 127] : [0, 255];
    const rows = 24, data = xdt === "int8" ? new Int8Array(rows * n) : new Uint8Array(rows * n);
    for (let i = 0; i < rows; i++) {
      // the row's spread w: every sub-table count, at both edges of a sub-table
      const w = [
        0,
        1,
        15,
        16,
        17,
        31,
        32,
        47,
        48,
        63,
        95,
        96,
        127,
        128,
        143,
        159,
        191,
        200,
        223,
        239,
        240,
        254,
        255,
        r.int(0, 255),
      ][i];
      const c = r.int(lo, hi - w);
      for (let j = 0; j < n; j++) data[i * n + j] = c + r.int(0, w);
      // the extremes present, the maximum several times over
      data[i * n + r.int(0, n - 1)] = c;
      for (let k = r.int(1, 4); k > 0; k--) data[i * n + r.int(0, n - 1)] = c + w;
    }
    nodes.push({
      op: "QSoftmax",
      attrs: { exp_table: expTable(r), r: r.pick([255, 311, r.int(2, 32767), 32767]) },
      inputs: [{ t: { dtype: xdt, shape: [rows, n], data } }],
    });
  }
  // Entry 0 at 65536 (above the planes' u16): its lanes get the 1 back. With r = 1, the
  // maximum's e = 65536 and the others summing to 65536, a/S is exactly 1 for the maximum;
  // without the 1 it would be 131070 / 131071 (output 0). One row of 16 (the 1-vector
  // body: 14·4369 + 4370), one of 32 (the 2-vector body: 30·2184 + 16).
  const u8 = (a: number[]) => Uint8Array.from(a);
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: [65536, 4369, 4370, ...new Array(253).fill(0)], r: 1 },
    inputs: [{
      t: { dtype: "uint8", shape: [1, 16], data: u8([200, ...new Array(14).fill(199), 198]) },
    }],
  });
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: [65536, 2184, 16, ...new Array(253).fill(0)], r: 1 },
    inputs: [{
      t: { dtype: "uint8", shape: [1, 32], data: u8([199, 200, ...new Array(29).fill(199), 198]) },
    }],
  });
  // 65536 past entry 0 (the planes cannot hold it: the kernel reads the i32 table). r = 1,
  // e = 65536 at d = 0 and 1, 0 beyond: both outputs are 1; 65535 at d = 1 would give 0.
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: [65536, 65536, ...new Array(254).fill(0)], r: 1 },
    inputs: [{
      t: { dtype: "uint8", shape: [1, 16], data: u8([200, 199, ...new Array(14).fill(100)]) },
    }],
  });
  nodes.push({
    op: "QSoftmax",
    attrs: { exp_table: [65536, 65536, 40000, ...new Array(253).fill(3)], r: r.int(2, 32767) },
    inputs: [{ t: randQ(r, "int8", [6, 50]) }],
  });
  await check("QSoftmax swizzle", nodes);
});

Deno.test("wasm QSoftmax f32-estimate path: S around its 16·10^6 bound, exact quotients, ViT rows", async () => {
  const r = new Rng(506);
  const nodes: TestNode[] = [];
  // all e = 2^16: S = 2^16·N, on both sides of the bound (N = 244: 15 990 784; 245: 16 056 320)
  for (const n of [243, 244, 245]) {
    nodes.push({
      op: "QSoftmax",
      attrs: { exp_table: new Array(256).fill(65536), r: r.pick([255, 32767, r.int(2, 32767)]) },
      inputs: [{ t: randQ(r, "uint8", [3, n]) }],
    });
  }
  // e ∈ {c, 0}: S = c·(count of the max), quotients e·r/S exact integers or just below
  for (let i = 0; i < 6; i++) {
    const c = r.pick([1, 2, 3, 255, 4096, 65536]), n = r.pick([5, 8, 12, 197]);
    const t = [c, ...new Array(255).fill(0)];
    const x = new Uint8Array(n).map(() => r.pick([9, 9, 200]));
    nodes.push({
      op: "QSoftmax",
      attrs: { exp_table: t, r: r.pick([255, 256, 510, 32767, r.int(1, 32767)]) },
      inputs: [{ t: { dtype: "uint8", shape: [1, n], data: x } }],
    });
  }
  for (let i = 0; i < 4; i++) {
    nodes.push({
      op: "QSoftmax",
      attrs: { exp_table: expTable(r), r: r.pick([255, r.int(2, 32767)]) },
      inputs: [{ t: randQ(r, r.pick(["int8", "uint8"] as const), [3, 197, 197]) }],
    });
  }
  await check("QSoftmax f32", nodes);
});

Deno.test("wasm QSoftmax f32 path: tails 1..7 (the overlapping last 8), rows 1..7, extreme rows", async () => {
  const r = new Rng(509);
  const nodes: TestNode[] = [];
  for (const n of [1, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 23, 50, 63, 65, 129, 197]) {
    for (let rep = 0; rep < 2; rep++) {
      const xdt: Q = r.pick(["int8", "uint8"] as const);
      nodes.push({
        op: "QSoftmax",
        attrs: { exp_table: expTable(r), r: r.pick([1, 255, 311, r.int(2, 32767), 32767]) },
        inputs: [{
          t: rep ? extremeRows(r, xdt, r.int(1, 7), n) : randQ(r, xdt, [r.int(1, 7), n]),
        }],
      });
    }
  }
  await check("QSoftmax tails", nodes);
});

function perChannel(r: Rng, n: number, f: () => number): number | number[] {
  return r.u32() % 4 === 0 ? f() : Array.from({ length: n }, f);
}

function layerNormCase(r: Rng, n: number): TestNode {
  const xdt: Q = r.pick(["int8", "uint8"] as const), ydt: Q = r.pick(["int8", "uint8"] as const);
  const [lo, hi] = ydt === "int8" ? [-128, 127] : [0, 255];
  const k = layerNormShift(n);
  const mult: number[] = [], shift: number[] = [];
  const nm = r.u32() % 4 === 0 ? 1 : n;
  // big: some multipliers above 1 (positive shifts: the scalar path); else the SIMD path
  const big = r.u32() % 3 === 0;
  for (let i = 0; i < nm; i++) {
    // |γ|·16 / (s_o · 2^k) for output scales around 1/30 .. 1/3; a few saturating ones.
    const m = big && r.u32() % 16 === 0 ? r.float(1, 300) : (r.float(0.05, 3) * 16 * 30) / 2 ** k;
    const q = quantizeMultiplier(m);
    mult.push(q.mult);
    shift.push(q.shift);
  }
  const a = r.int(lo, hi), b = r.int(lo, hi);
  const clampAttrs: Attrs = r.u32() % 3 === 0 ? { qmin: Math.min(a, b), qmax: Math.max(a, b) } : {};
  return {
    op: "QLayerNorm",
    attrs: {
      eps: r.pick([1, r.int(1, 5000), 2 ** 24]),
      mult: nm === 1 ? mult[0] : mult,
      shift: nm === 1 ? shift[0] : shift,
      sign: perChannel(r, n, () => r.pick([-1, 0, 1, 1, 1])),
      bias: perChannel(
        r,
        n,
        () => r.u32() % 16 === 0 ? r.pick([-(2 ** 30), 2 ** 30]) : r.int(-4000, 4000),
      ),
      y_zp: r.int(lo, hi),
      dtype: ydt,
      ...clampAttrs,
    },
    inputs: [{ t: randQ(r, xdt, shapeFor(r, n)) }],
  };
}

Deno.test("wasm QLayerNorm: rows of 1..67, 192 and 512, per-channel/shared attributes, clamps", async () => {
  const r = new Rng(503);
  const nodes: TestNode[] = [];
  for (const n of [...LENS, 192, 512]) {
    nodes.push(layerNormCase(r, n), layerNormCase(r, n), layerNormCase(r, n));
  }
  await check("QLayerNorm", nodes);
});

/** Rows of the extremes: constant, one outlier (the largest |D|/σ), two codes far apart. */
function extremeRows(r: Rng, dtype: Q, rows: number, n: number): Tensor {
  const data = dtype === "int8" ? new Int8Array(rows * n) : new Uint8Array(rows * n);
  const lo = dtype === "int8" ? -128 : 0;
  for (let i = 0; i < rows; i++) {
    const kind = r.int(0, 4), c = r.int(0, 255), at = r.int(0, n - 1);
    for (let j = 0; j < n; j++) {
      const u = kind === 0
        ? c // constant: V = 0, D = 0
        : kind === 1
        ? (j === at ? 255 - c : c) // one outlier
        : kind === 2
        ? (r.u32() & 1 ? 255 : 0) // max range
        : kind === 3
        ? (j === at ? 255 : 0)
        : r.int(0, 255);
      data[i * n + j] = u + lo;
    }
  }
  return { dtype, shape: [rows, n], data };
}

Deno.test("wasm QLayerNorm SIMD path: odd lengths, rows 1..7, extreme rows, shifts 0..-31, extreme biases", async () => {
  const r = new Rng(508);
  const nodes: TestNode[] = [];
  for (const n of [1, 3, 4, 5, 8, 17, 63, 64, 65, 129, 192]) {
    for (let rep = 0; rep < 2; rep++) {
      const xdt: Q = r.pick(["int8", "uint8"] as const),
        ydt: Q = r.pick(["int8", "uint8"] as const);
      const [lo, hi] = ydt === "int8" ? [-128, 127] : [0, 255];
      const k = layerNormShift(n);
      const mult: number[] = [], shift: number[] = [];
      for (let j = 0; j < n; j++) {
        // realistic multipliers, and every R' branch: 0, 1, >= 23 (t rounds away), 31
        const m = quantizeMultiplier((r.float(0.05, 3) * 16 * 30) / 2 ** k);
        const s = r.u32() % 3 ? m.shift : -r.pick([0, 1, 2, 22, 23, 24, 25, 31]);
        mult.push(
          r.u32() % 16 === 0
            ? r.pick([0, 2 ** 31 - 1])
            : s === m.shift
            ? m.mult
            : r.int(2 ** 30, 2 ** 31 - 1),
        );
        shift.push(s);
      }
      const a = r.int(lo, hi), b = r.int(lo, hi);
      nodes.push({
        op: "QLayerNorm",
        attrs: {
          eps: r.pick([1, r.int(1, 5000), 2 ** 24]),
          mult,
          shift,
          sign: Array.from({ length: n }, () => r.pick([-1, 0, 1, 1])),
          bias: Array.from(
            { length: n },
            () =>
              r.u32() % 8 === 0
                ? r.pick([-(2 ** 30), 2 ** 30, -(2 ** 23), 2 ** 23 - 9])
                : r.int(-6000, 6000),
          ),
          y_zp: r.pick([lo, hi, r.int(lo, hi)]),
          dtype: ydt,
          ...(rep ? { qmin: Math.min(a, b), qmax: Math.max(a, b) } : {}),
        },
        inputs: [{
          t: rep ? extremeRows(r, xdt, r.int(1, 7), n) : randQ(r, xdt, [r.int(1, 7), n]),
        }],
      });
    }
  }
  await check("QLayerNorm SIMD", nodes);
});

/**
 * Rows of 512 codes whose t = D·2^13/σ hits exact ties n + 1/2 with σ = 49152 = 3·2^14 (so
 * 1/σ is inexact in f64): 256 codes lo and 256 codes lo + 192 give V = 49152², one code
 * moved by 3 towards the mean makes the sum odd and every D an odd multiple of 3; eps
 * brings V + eps back to 49152² + 1.
 */
function layerNormTieRows(r: Rng): { rows: Uint8Array; eps: number } | undefined {
  const N = 512, rows: number[] = [];
  let eps = 0;
  for (let lo = 0; lo <= 63 && rows.length < 2 * N; lo++) {
    for (const [at, by] of [[0, -3], [511, 3]]) {
      const x = Array.from({ length: N }, (_, i) => (i < 256 ? lo + 192 : lo));
      x[at] += by;
      if (x[at] < 0 || x[at] > 255) continue;
      const sum = x.reduce((a, b) => a + b, 0), sq = x.reduce((a, b) => a + b * b, 0);
      const V = N * sq - sum * sum, e = 49152 ** 2 - V + 1;
      if (e < 1 || e > 2 ** 24 || (eps && e !== eps)) continue;
      const ties = x.filter((u) => (N * u - sum) % 3 === 0 && (N * u - sum) % 2 !== 0).length;
      if (!ties) continue;
      eps = e;
      for (let i = x.length - 1; i > 0; i--) { // shuffle the row
        const j = r.int(0, i);
        [x[i], x[j]] = [x[j], x[i]];
      }
      rows.push(...x);
      if (rows.length >= 2 * N) break;
    }
  }
  return rows.length ? { rows: Uint8Array.from(rows), eps } : undefined;
}

Deno.test("wasm QLayerNorm: exact ties of D·2^k/σ with an inexact 1/σ (N = 512, σ = 3·2^14)", async () => {
  const r = new Rng(507);
  const tie = layerNormTieRows(r);
  assert.ok(tie, "no tie rows found");
  const nodes: TestNode[] = [];
  for (let i = 0; i < 3; i++) {
    const tn = layerNormCase(r, 512);
    tn.attrs.eps = tie.eps;
    // |t| ≈ 8192; a multiplier just below 1/4 keeps y = (u + bias + 8) >> 4 inside int8,
    // and a wrong last bit of t moves u by ~1/4 (visible for some of the biases 0..15)
    const q = quantizeMultiplier(r.float(0.2, 0.24));
    tn.attrs.mult = q.mult;
    tn.attrs.shift = q.shift;
    tn.attrs.sign = r.pick([1, -1]);
    tn.attrs.bias = Array.from({ length: 512 }, (_, j) => j & 15);
    tn.attrs.y_zp = 0;
    tn.attrs.dtype = "int8";
    delete tn.attrs.qmin;
    delete tn.attrs.qmax;
    tn.inputs = [{ t: { dtype: "uint8", shape: [tie.rows.length / 512, 512], data: tie.rows } }];
    nodes.push(tn);
  }
  await check("QLayerNorm ties", nodes);
});

Deno.test("wasm QLut/QSoftmax/QLayerNorm: bad attributes are EdgeqErrors naming the node", async () => {
  const r = new Rng(504);
  const x = randQ(r, "uint8", [2, 5]);
  const cases: [TestNode, Record<string, unknown>][] = [
    [{ op: "QLut", attrs: { table: new Array(256).fill(1) }, inputs: [{ t: x }] }, {
      table: [1, 2],
    }],
    [{ op: "QSoftmax", attrs: { exp_table: new Array(256).fill(9), r: 255 }, inputs: [{ t: x }] }, {
      r: 0,
    }],
    [layerNormCase(r, 5), { eps: 0 }],
  ];
  for (const [tn, bad] of cases) {
    tn.inputs = [{ t: x }];
    const { graph } = nodesGraph([tn]);
    Object.assign(graph.nodes[0].attrs, bad);
    await assert.rejects(
      () => compileWasm(graph, { threads: 1 }),
      (e: unknown) =>
        e instanceof EdgeqError && e.code === "E_UNSUPPORTED_ATTR" &&
        e.where.node === graph.nodes[0].name,
      tn.op,
    );
  }
});

Deno.test("wasm Gather (constant indices, any axis, negative indices) copies like the reference", async () => {
  const r = new Rng(505);
  const nodes: TestNode[] = [];
  for (
    const [shape, axis, idx] of [
      [[1, 17, 64], 1, [0]],
      [[2, 17, 5], 1, [-1, 3, 3]],
      [[3, 4], 0, [2]],
      [[3, 4, 7], -1, [6, 0]],
    ] as [number[], number, number[]][]
  ) {
    const ishape = idx.length === 1 && axis === 1 ? [] : [idx.length];
    nodes.push({
      op: "Gather",
      domain: "",
      attrs: { axis },
      inputs: [
        { t: randQ(r, r.pick(["int8", "uint8"] as const), shape) },
        {
          t: { dtype: "int64", shape: ishape, data: Float64Array.from(idx) },
          constant: true,
        },
      ],
    });
  }
  await check("Gather", nodes);
});
