/**
 * Whole models on the wasm backend against the reference backend, bit for bit: the
 * ResNet-14 fixture quantized to int8 (residual joins as QAdd, and fused into QConv), and
 * the ViT fixture (int8 with float islands; bit-identical with the islands on the
 * reference ops, within a stated tolerance with the f32 wasm kernels), on 32 test images,
 * every build (baseline, relaxed, relaxed-pair), 1 and 2 threads; gating (skipped residual blocks) too.
 */
import assert from "node:assert/strict";
import { quantize } from "../quantizer/quantize.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { load } from "../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { gemmPaths, k4Paths } from "../kernels/wasm/ops_int8.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const R14 = `${ROOT}tests/fixtures/resnet14_op13.onnx`;

const N = 32;

const models = new Map<string, Uint8Array>();
async function quantized(key: string, onnx: string, opts: Record<string, unknown> = {}) {
  let b = models.get(key);
  if (!b) {
    const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 32 });
    b = quantize(await Deno.readFile(onnx), calib, opts).bytes;
    models.set(key, b);
  }
  return b;
}

async function images(): Promise<Tensor> {
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, N);
  return imageBatch(set, 0, N);
}

function diffCount(a: Tensor, b: Tensor): number {
  assert.deepEqual(b.shape, a.shape);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) d++;
  return d;
}

async function sameAsRef(
  bytes: Uint8Array,
  x: Tensor,
  backendOptions: Record<string, unknown>,
  threads: number,
  skipBlocks?: number[],
): Promise<{ fallbacks: string[] }> {
  const ref = await load(bytes);
  const w = await load(bytes, { backend: "wasm", threads, backendOptions });
  try {
    const want = await ref.run({ input: x }, { skipBlocks });
    const got = await w.run({ input: x }, { skipBlocks });
    for (const k of Object.keys(want)) {
      assert.equal(
        diffCount(want[k], got[k]),
        0,
        `output ${k} differs (${JSON.stringify(backendOptions)}, ${threads} threads)`,
      );
    }
    const g = w.bound({ input: x.shape });
    const c = await (await import("../kernels/wasm/compile.ts")).compileWasm(g, {
      ...backendOptions,
      threads: 1,
    });
    c.dispose();
    return { fallbacks: c.fallbacks };
  } finally {
    await w.dispose();
  }
}

Deno.test("wasm model: ResNet-14 int8 with 8-bit weights (the split path) is bit-identical to ref on 32 images (every build, 1 and 2 threads)", async () => {
  const bytes = await quantized("r14w8", R14, { weightBits: 8 });
  const x = await images();
  const before = { ...gemmPaths };
  for (const build of ["baseline", "relaxed", "relaxed-pair"]) {
    for (const threads of [1, 2]) {
      const { fallbacks } = await sameAsRef(bytes, x, { build }, threads);
      // Only the float preprocessing (Sub, Div before the first QuantizeLinear8) may fall back.
      assert.ok(fallbacks.every((f) => /\((Sub|Div)\)$/.test(f)), fallbacks.join(", "));
    }
  }
  // 8-bit weights (some reach ±127) cannot take the s8 layout
  assert.ok(
    gemmPaths.split - before.split >= 4 * 10,
    `split layers: ${gemmPaths.split - before.split}`,
  );
  assert.equal(gemmPaths.s8 - before.s8, 0);
});

Deno.test("wasm model: ResNet-14 with 7-bit weights (the s8 path) is bit-identical to ref (every build, 1 and 2 threads)", async () => {
  const bytes = await quantized("r14w7", R14, { weightBits: 7 });
  const x = await images();
  const before = { ...gemmPaths };
  for (
    const [build, threads] of [
      ["baseline", 1],
      ["relaxed", 1],
      ["relaxed", 2],
      ["relaxed-pair", 1],
      ["relaxed-pair", 2],
    ] as const
  ) {
    await sameAsRef(bytes, x, { build }, threads);
  }
  // every QConv/QGemm of the model took the s8 layout (compiled by load and by sameAsRef)
  assert.ok(gemmPaths.s8 - before.s8 >= 3 * 2 * 10, `s8 layers: ${gemmPaths.s8 - before.s8}`);
  assert.equal(gemmPaths.split - before.split, 0);
});

Deno.test("wasm model: ResNet-14 with residuals fused into QConv, and skipped blocks", async () => {
  const fused = await quantized("r14-fused", R14, { fuseResidual: true });
  const plain = await quantized("r14", R14);
  const x = await images();
  await sameAsRef(fused, x, { build: "relaxed" }, 2);
  for (const bytes of [fused, plain]) {
    const m = await load(bytes);
    const nb = m.bound({ input: x.shape }).blocks.length;
    if (nb === 0) continue; // block discovery on quantized joins may be absent in this tree
    await sameAsRef(bytes, x, { build: "relaxed" }, 1, [0, nb - 1]);
  }
});

Deno.test("wasm model: ViT int8 — bit-identical with reference float islands, close with f32 SIMD islands", async () => {
  const bytes = await quantized("vit", `${ROOT}tests/fixtures/vit_op17.onnx`);
  const x = await images();
  const shared0 = k4Paths.sharedPrep;
  for (const threads of [1, 2]) {
    const { fallbacks } = await sameAsRef(
      bytes,
      x,
      { build: "relaxed", floatIslands: "ref" },
      threads,
    );
    assert.ok(fallbacks.length > 0);
  }
  await sameAsRef(bytes, x, { build: "baseline", floatIslands: "ref" }, 1);
  // each block's k and v projections read the A4 groups its q projection prepared
  assert.ok(k4Paths.sharedPrep - shared0 >= 3 * 8, `shared preps: ${k4Paths.sharedPrep - shared0}`);
  // f32 SIMD islands (where the quantizer still leaves float islands).
  const ref = await load(bytes);
  const w = await load(bytes, { backend: "wasm", threads: 2 });
  try {
    const want = (await ref.run({ input: x })).logits, got = (await w.run({ input: x })).logits;
    let maxd = 0, agree = 0;
    const C = want.shape[1];
    for (let i = 0; i < N; i++) {
      let a = 0, b = 0;
      for (let k = 0; k < C; k++) {
        maxd = Math.max(maxd, Math.abs(want.data[i * C + k] - got.data[i * C + k]));
        if (want.data[i * C + k] > want.data[i * C + a]) a = k;
        if (got.data[i * C + k] > got.data[i * C + b]) b = k;
      }
      if (a === b) agree++;
    }
    console.log(
      `ViT, f32 SIMD islands vs ref: max |Δlogit| ${maxd}, top-1 agreement ${agree}/${N}`,
    );
    assert.ok(agree >= N - 1, `top-1 agreement ${agree}/${N}`);
    assert.ok(maxd <= 0.5, `max |Δlogit| ${maxd}`);
    const g = w.bound({ input: x.shape });
    const c = await (await import("../kernels/wasm/compile.ts")).compileWasm(g, { threads: 1 });
    c.dispose();
    // Only the float pre-processing / layout ops before the first QuantizeLinear8 may run
    // on the reference (fallbackStep): QLut, QSoftmax, QLayerNorm, QMatMul, Gather and
    // Transpose all have wasm steps.
    const allowed = new Set(["(Sub)", "(Div)", "(Pad)"]);
    const ops = c.fallbacks.map((f) => f.replace(/.* \(/, "("));
    assert.deepEqual(ops.filter((o) => !allowed.has(o)), [], `fallbacks: ${ops.join(", ")}`);
    const kinds = new Set(g.nodes.map((n) => n.op));
    for (const op of ["QLut", "QSoftmax", "QLayerNorm", "QMatMul", "Gather"]) {
      assert.ok(kinds.has(op), `the quantized ViT has ${op} nodes`);
    }
  } finally {
    await w.dispose();
  }
});

Deno.test("wasm threads: a run wakes parked workers only when the run before it split a call and was long", async () => {
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 32 });
  const bytes = quantize(await Deno.readFile(R14), calib).bytes;
  const x = imageBatch(await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 2), 0, 2);
  const want = (await (await load(bytes)).run({ input: x })).logits.data;
  const m = await load(bytes, { backend: "wasm", threads: 2 });
  const { compileWasm } = await import("../kernels/wasm/compile.ts");
  const g = m.bound({ input: x.shape });
  const park = () => new Promise((r) => setTimeout(r, 40)); // past the workers' spin
  // every call far below its grain: all run inline, so no run after the first wakes (wakeRunMs
  // 0: the runs' length does not keep it parked, only that they split nothing)
  const small = await compileWasm(g, { threads: 2, grainScale: 1e9, wakeRunMs: 0 });
  // every call split: each run after a pause wakes the parked worker (wakeRunMs 0: however
  // short the run before)
  const split = await compileWasm(g, { threads: 2, splitAll: true, wakeRunMs: 0 });
  // calls split at their grains, every run "short": after the first, the parked worker stays
  // parked and the calls (none of PARKED_INLINE_GRAINS grains) run on the calling thread
  const quiet = await compileWasm(g, { threads: 2, wakeRunMs: 1e9 });
  try {
    let quietWakes = 0; // the quiet pool's wake-ups in its first run (not a short one yet)
    for (const c of [small, split, quiet]) {
      for (let i = 0; i < 4; i++) {
        await park();
        const y = Object.values(await c.run({ input: x }))[0].data;
        assert.deepEqual([...y], [...want], `run ${i}`);
        if (c === quiet && i === 0) quietWakes = c.poolStats()!.wakes;
      }
    }
    const s = small.poolStats()!, t = split.poolStats()!;
    assert.equal(s.splits, 0);
    assert.ok(s.wakes <= 1, `${s.wakes} wake-ups with nothing to share`);
    assert.ok(t.splits > 4 * 10, `${t.splits} split calls`);
    assert.ok(t.wakes >= 3, `${t.wakes} wake-ups of the split runs' parked worker`);
    // each run's wake-up timed (at a call, or at the run's end while the worker still slept)
    assert.ok(t.wakeSamples >= 3 && t.wakeSamples <= t.wakes, `${t.wakeSamples} samples`);
    assert.ok(t.wakeMs !== undefined && t.wakeMs >= 0, `wake-up latency ${t.wakeMs} ms`);
    const q = quiet.poolStats()!;
    assert.ok(q.splits >= 4, `${q.splits} calls with a use for the worker`);
    assert.equal(q.wakes, quietWakes, "wake-ups after short runs");
  } finally {
    small.dispose();
    split.dispose();
    quiet.dispose();
    await m.dispose();
  }
});

Deno.test("wasm threads: idle workers close (the process can exit without dispose) and restart with the same bits", async () => {
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 32 });
  const bytes = quantize(await Deno.readFile(R14), calib).bytes;
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 8);
  const x = imageBatch(set, 0, 8);
  const ref = (await (await load(bytes)).run({ input: x })).logits.data;
  const m = await load(bytes, {
    backend: "wasm",
    threads: 2,
    backendOptions: { idleMs: 0, splitAll: true },
  });
  for (let i = 0; i < 3; i++) {
    const y = (await m.run({ input: x })).logits.data;
    assert.deepEqual([...y], [...ref], `run ${i}`);
    await new Promise((r) => setTimeout(r, 20)); // the idle timer closes the pool
  }
  await m.dispose();
  // A script that runs once and never calls dispose() must exit on its own.
  const path = `/tmp/edgeq-exit-${Date.now()}.eqp`;
  await Deno.writeFile(path, bytes);
  const script = `import { load } from "${ROOT}mod.ts";
const m = await load("${path}", { backend: "wasm", threads: 2 });
const x = { dtype: "float32", shape: [1, 1, 28, 28], data: new Float32Array(784).fill(0.5) };
console.log((await m.run({ input: x })).logits.data.length);`;
  try {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", script],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    });
    const out = await cmd.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "10");
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});
