/**
 * Compiling a bound graph for the wasm backend: every node becomes a step over buffers in
 * one shared wasm memory. Integer ops (and a few float ones) run as wasm kernels;
 * anything else runs the reference op on views of that memory and is listed in
 * `fallbacks`. Activation buffers are placed by liveness (values alive at the same time
 * never share bytes); weights are packed once into the kernels' panel format.
 * @module
 */
import { EdgeqError } from "../../runtime/errors.ts";
import type { Graph, Node } from "../../runtime/graph.ts";
import { size, type Tensor, type TensorData } from "../../runtime/tensor.ts";
import type { BackendRunOptions, CompiledGraph } from "../../runtime/backend.ts";
import { refOpFor } from "../ref/mod.ts";
import { ALIAS_OPS } from "../ref/shape_ops.ts";
import { Arena, type Interval, mergeAliases, placeIntervals } from "./memory.ts";
import { type BuildName, instantiate, type KernelInstance } from "./instance.ts";
import { type CompileCtx, elemBytes, type RunEnv, type Step } from "./step.ts";
import {
  compileDequantize,
  compileGap,
  compilePool,
  compileQAdd,
  compileQConv,
  compileQGemm,
  compileQRelu,
  compileQuantize,
  compileSkippedJoin,
} from "./ops_int8.ts";
import { compileFloat, compileQMatMul } from "./ops_float.ts";
import { compileQLayerNorm, compileQLut, compileQSoftmax } from "./ops_qnorm.ts";
import { canSpawnWorkers, ThreadPool } from "./threads.ts";
import { fusedCounts, fuseOptions, isFolded, planFusions } from "./fuse.ts";

/** Options of the wasm backend (BackendOptions plus these switches). */
export interface WasmOptions {
  /** Worker threads (default: navigator.hardwareConcurrency). */
  threads?: number;
  /** Force a build ("baseline" ignores relaxed SIMD even where it exists). */
  build?: BuildName;
  /** Where float islands run: "wasm" (f32 SIMD kernels, the default) or "ref". */
  floatIslands?: "wasm" | "ref";
  /** Accumulate per-node times (see {@link WasmCompiledGraph.profile}). */
  profile?: boolean;
  /** Split every parallel call into `threads` parts whatever its size (tests). */
  splitAll?: boolean;
  /** Benchmarks: every parallel call's grain (items per part) times this (default 1). */
  grainScale?: number;
  /** Close idle worker threads after this many ms (default 1000); the next run restarts them. */
  idleMs?: number;
  /**
   * A run wakes parked workers only when the run before it took at least this many ms; a
   * shorter run leaves them parked and its calls run on the calling thread, but for calls
   * big enough to wake a worker on their own. Default: {@link WAKE_FACTOR} times the
   * pool's measured wake-up latency ({@link WAKE_RUN_MS} before the first measurement).
   */
  wakeRunMs?: number;
}

/** A graph compiled for the wasm backend. */
export interface WasmCompiledGraph extends CompiledGraph {
  /** Nodes that run on the reference op ("name (op)"), in graph order. */
  readonly fallbacks: string[];
  /** The build in use. */
  readonly build: BuildName;
  /** Threads in use. */
  readonly threads: number;
  /** Bytes of wasm memory: packed weights/records, scratch, activations. */
  readonly memoryBytes: { weights: number; scratch: number; activations: number };
  /** Milliseconds spent in each node over all runs so far when compiled with `profile`. */
  readonly profile?: Map<string, number>;
  /**
   * With `profile`: milliseconds spent in each kernel called through the thread pool
   * (`gemm_rows7`, `prep_x7`, …), whole calls on the calling thread, over all runs.
   */
  readonly kernelProfile?: Map<string, number>;
  /**
   * The worker pool's counters since it last started (undefined at 1 thread or while an
   * idle pool is closed): calls cut into chunks, futex wake-ups of parked workers, the
   * median of the last wake-up latencies in ms (ThreadPool.wakeMs; undefined before the
   * first) and how many were measured.
   */
  poolStats():
    | { splits: number; wakes: number; wakeMs: number | undefined; wakeSamples: number }
    | undefined;
}

/**
 * Runs shorter than this (ms, the run before) leave parked workers parked. On this
 * project's 2-vCPU VMs a parked worker woken by a running caller started after a median of
 * 2–3.5 ms in earlier sessions' bench/wake_probe.ts runs, the whole length of a fixture's
 * run, and then shared the caller's CPU: ResNet-14 at 2 threads took a median 3.08, 3.26
 * and 1.99 ms after a 25 ms pause in three bench runs, 1.89 ms at 1 thread in the first
 * (bench/quiet_probe.ts compares the rule with wakeRunMs 0).
 */
export const WAKE_RUN_MS = 4;

/**
 * With no `wakeRunMs` given, a run wakes parked workers when the run before it took at
 * least this many times the pool's median wake-up latency (ThreadPool.wakeMs). On a
 * 16-core Xeon (the GPU box, 2026-11-24) that latency was 61 µs at the median after a 25
 * ms pause (`bench/wake_probe.ts`), and ResNet-14 at 2 threads took 0.968 ms when every
 * run woke the worker against 1.297 ms with the 4 ms rule (`bench/quiet_probe.ts`, 60
 * rounds); on the 2-vCPU VM the woken worker waits for the caller to yield, so a sample
 * there is about a whole run and short runs stay quiet.
 */
export const WAKE_FACTOR = 2;

/** While quiet, every this many runs wakes the workers anyway, to measure the latency again. */
export const WAKE_REPROBE_RUNS = 32;

function compileNode(c: CompileCtx, floatIslands: string): Step | undefined {
  const { node } = c;
  if (node.domain === "edgeq") {
    switch (node.op) {
      case "QConv":
        return compileQConv(c);
      case "QGemm":
        return compileQGemm(c);
      case "QMatMul":
        return compileQMatMul(c);
      case "QAdd":
        return compileQAdd(c);
      case "QRelu":
        return compileQRelu(c);
      case "QMaxPool":
        return compilePool(c, false);
      case "QAveragePool":
        return compilePool(c, true);
      case "QGlobalAveragePool":
        return compileGap(c);
      case "QuantizeLinear8":
        return compileQuantize(c);
      case "DequantizeLinear8":
        return compileDequantize(c);
      case "QLut":
        return compileQLut(c);
      case "QSoftmax":
        return compileQSoftmax(c);
      case "QLayerNorm":
        return compileQLayerNorm(c);
    }
    return undefined;
  }
  if (ALIAS_OPS.includes(node.op) && node.inputs[0] && !c.constant(node.inputs[0])) {
    const x = node.inputs[0], y = node.outputs[0];
    const m = c.meta(y);
    const bytes = size(m.shape) * elemBytes(m.dtype);
    return (env) => {
      const a = env.addr(x), b = env.addr(y);
      if (a !== b) env.u8().copyWithin(b, a, a + bytes);
    };
  }
  if (node.op === "Transpose" || node.op === "Gather" || floatIslands === "wasm") {
    return compileFloat(c);
  }
  return undefined;
}

const VIEWS: Record<string, new (b: ArrayBufferLike, o: number, n: number) => TensorData> = {
  float32: Float32Array,
  float64: Float64Array,
  int64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
};

function view(buf: ArrayBufferLike, dtype: string, shape: number[], p: number): Tensor {
  const V = VIEWS[dtype];
  if (!V) throw new EdgeqError("E_UNSUPPORTED_DTYPE", `wasm backend: no storage for ${dtype}`);
  return { dtype: dtype as Tensor["dtype"], shape: [...shape], data: new V(buf, p, size(shape)) };
}

/** A reference-op step on views of the wasm memory. */
function fallbackStep(g: Graph, node: Node): Step {
  const op = refOpFor(node);
  if (!op) {
    throw new EdgeqError(
      "E_UNSUPPORTED_OP",
      `no kernel for ${node.domain || "ai.onnx"}:${node.op}`,
      {
        node: node.name,
        op: node.op,
      },
    );
  }
  const ctx = { node, opset: g.opset };
  return (env) => {
    const buf = env.buf();
    const ins = node.inputs.map((x) => {
      if (!x) return undefined;
      const c = g.initializers.get(x);
      if (c) return c;
      const m = g.values.get(x)!;
      return view(buf, m.dtype, m.shape, env.addr(x));
    });
    const outs = op.run(ins, node.attrs, ctx);
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const d = outs[i].data;
      new Uint8Array(buf, env.addr(o), d.byteLength).set(
        new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
      );
    });
  };
}

/**
 * Compiles a bound graph (static shapes) for the wasm kernels.
 *
 * @example
 * ```ts
 * const c = await compileWasm(bound, { threads: 2 });
 * const out = await c.run({ input: x });
 * console.log(c.fallbacks); // e.g. ["/Pad (Pad)"]
 * ```
 */
export async function compileWasm(g: Graph, opts: WasmOptions = {}): Promise<WasmCompiledGraph> {
  const hw = (globalThis.navigator as { hardwareConcurrency?: number })?.hardwareConcurrency ?? 1;
  let threads = opts.threads ?? hw;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new EdgeqError("E_USAGE", `threads must be a positive integer, got ${threads}`);
  }
  const inst: KernelInstance = instantiate({ pages: 1, build: opts.build });
  if (!inst.shared && threads > 1) {
    console.warn(
      "edgeq wasm: SharedArrayBuffer is unavailable (page not cross-origin isolated): 1 thread",
    );
    threads = 1;
  }
  if (threads > 1 && !canSpawnWorkers()) {
    console.warn("edgeq wasm: no web Worker available (Node worker_threads shim?): 1 thread");
    threads = 1;
  }
  const arena = new Arena(inst.memory);
  const floatIslands = opts.floatIslands ?? "wasm";

  // Residual blocks: nodes inside a block get a skip alternative at the join, and only
  // steps in the same blocks share buffers (CompileCtx.shared).
  const blockOf = new Map<string, number[]>();
  for (const b of g.blocks) {
    for (const n of b.nodes) blockOf.set(n, [...(blockOf.get(n) ?? []), b.index]);
  }

  const fusions = planFusions(g);
  const steps: Step[] = [];
  const skipSteps = new Map<number, Step>(); // block index → its join's skip step
  const fallbacks: string[] = [];
  const shared = new Map<string, number>();
  let scratch = 0;
  const meta = (name: string) => {
    const m = g.values.get(name);
    if (!m) throw new EdgeqError("E_BAD_MODEL", `value '${name}' has no shape (graph not bound?)`);
    return m;
  };
  g.nodes.forEach((node) => {
    const c: CompileCtx = {
      g,
      node,
      op: { node, opset: g.opset },
      arena,
      k: inst.k,
      threads,
      meta,
      constant: (n) => g.initializers.get(n),
      scratch: (b) => (scratch = Math.max(scratch, b)),
      transposes: fusions.transposes.get(node.name),
      fold: (name) => fusions.folded.set(name, (fusions.folded.get(name) ?? 0) + 1),
      blocks: blockOf.get(node.name) ?? [],
      shared,
    };
    let s = compileNode(c, floatIslands);
    if (!s) {
      s = fallbackStep(g, node);
      fallbacks.push(`${node.name} (${node.op})`);
    }
    steps.push(s);
    for (const b of g.blocks) {
      const bj = (b as { join?: string }).join;
      if (bj !== undefined ? bj === node.name : b.output === node.outputs[0]) {
        const bi = (b as { bodyInput?: number }).bodyInput ?? node.inputs.indexOf(b.body);
        skipSteps.set(b.index, compileSkippedJoin(c, bi, b.shortcut));
      }
    }
  });
  // a Transpose that every reader reads or writes in place (fuse.ts) has nothing to do
  g.nodes.forEach((n, i) => {
    if (isFolded(fusions, n.name)) steps[i] = () => {};
  });
  const weightBytes = arena.top;

  // Liveness of every computed value.
  const iv = new Map<string, Interval>();
  const touch = (name: string, i: number) => {
    if (!name || g.initializers.has(name)) return;
    const m = meta(name);
    let v = iv.get(name);
    if (!v) {
      v = { name, bytes: Math.max(16, size(m.shape) * elemBytes(m.dtype)), start: i, end: i };
      iv.set(name, v);
    }
    v.start = Math.min(v.start, i);
    v.end = Math.max(v.end, i);
  };
  for (const v of g.inputs) touch(v.name, -1);
  g.nodes.forEach((n, i) => {
    n.inputs.forEach((x) => touch(x, i));
    n.outputs.forEach((x) => touch(x, i));
    // a QMatMul reads / writes its folded Transposes' buffers in place
    fusions.transposes.get(n.name)?.forEach((f) => f && touch(f.src, i));
  });
  for (const o of g.outputs) {
    touch(o.name, g.nodes.length);
    iv.get(o.name)!.end = Infinity;
  }
  // a Reshape-like copy of a computed value shares its buffer: its step has nothing to do
  const copies = g.nodes.map((n, i) => [n, i] as const)
    .filter(([n]) => !n.domain && ALIAS_OPS.includes(n.op) && n.inputs[0] && n.outputs[0]);
  const aliasOf = fuseOptions.alias
    ? mergeAliases(iv, copies.map(([n]) => [n.inputs[0], n.outputs[0]]))
    : new Map<string, string>();
  for (const [n, i] of copies) if (aliasOf.has(n.outputs[0])) steps[i] = () => {};
  fusedCounts.alias += aliasOf.size;
  const { offsets, size: actBytes } = placeIntervals([...iv.values()]);
  const scratchBase = arena.alloc(scratch);
  const actBase = arena.alloc(actBytes);
  const addrOf = new Map<string, number>();
  for (const [n, o] of offsets) addrOf.set(n, actBase + o);
  for (const [n, r] of aliasOf) addrOf.set(n, addrOf.get(r)!);

  // Workers keep a Deno process (and a page's event loop) alive, so an idle pool is
  // closed after `idleMs` (default 1 s) and restarted by the next run: a script that
  // runs a model and returns exits shortly after, without having to call dispose().
  let pool = threads > 1 ? await ThreadPool.start(inst, threads) : undefined;
  const idleMs = typeof opts.idleMs === "number" ? opts.idleMs : 1000;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    if (idle !== undefined) clearTimeout(idle);
    idle = pool
      ? setTimeout(() => {
        pool?.close();
        pool = undefined;
        idle = undefined;
      }, idleMs)
      : undefined;
  };
  armIdle();
  const k = inst.k as unknown as Record<string, (...a: number[]) => void>;
  const gs = opts.grainScale ?? 1;
  const scaleGrain = (g: number) => gs === 1 ? g : Math.max(1, Math.round(g * gs));
  // views over the whole memory, made again only when its buffer changes (a view costs
  // more to make than a kernel call's JS: per-step views were most of the ViT fixture's JS)
  let viewBuf: ArrayBufferLike | undefined;
  let i32View: Int32Array<ArrayBufferLike> = new Int32Array(0);
  let u8View: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  const views = () => {
    const b = inst.memory.buffer;
    if (b !== viewBuf) {
      viewBuf = b;
      i32View = new Int32Array(b);
      u8View = new Uint8Array(b);
    }
  };
  const env: RunEnv = {
    k: inst.k,
    buf: () => inst.memory.buffer,
    i32: () => (views(), i32View),
    u8: () => (views(), u8View),
    addr: (n) => {
      const a = addrOf.get(n);
      if (a === undefined) throw new EdgeqError("E_BAD_MODEL", `value '${n}' has no buffer`);
      return a;
    },
    scratch: scratchBase,
    par: (fn, args, total, grain) => {
      if (pool) pool.run(fn, args, total, opts.splitAll ? 1 : scaleGrain(grain));
      else if (total > 0) k[fn](...args, 0, total, 0);
    },
  };
  const kernelProfile = opts.profile ? new Map<string, number>() : undefined;
  if (kernelProfile) {
    const par = env.par;
    env.par = (fn, args, total, grain) => {
      const t0 = performance.now();
      par(fn, args, total, grain);
      kernelProfile.set(fn, (kernelProfile.get(fn) ?? 0) + performance.now() - t0);
    };
  }

  let disposed = false;
  // Whether the last run cut any call into chunks. A run wakes parked workers first so
  // that they spin through its calls, unless the pool is quiet: when no call of the last
  // run was split (a model too small to share; the same graph splits the same calls every
  // run) or it took less than wakeRunMs (default: WAKE_FACTOR × the pool's measured
  // wake-up latency; every WAKE_REPROBE_RUNS quiet runs, one wakes to measure it again).
  // A woken worker spins for ms, and on this 2-vCPU VM that slowed the calling thread
  // (vit_op17 at 2 threads: 1.347 ms after a pause against 1.120 ms at 1 thread, every
  // call inline).
  let splitLast = true;
  let lastRunMs = Infinity;
  let quietRuns = 0;
  const measured = opts.wakeRunMs === undefined;
  const profile = opts.profile ? new Map<string, number>() : undefined;
  return {
    profile,
    kernelProfile,
    fallbacks,
    build: inst.build,
    threads,
    memoryBytes: { weights: weightBytes, scratch, activations: actBytes },
    poolStats: () =>
      pool && {
        splits: pool.splits,
        wakes: pool.wakes,
        wakeMs: pool.wakeMs,
        wakeSamples: pool.wakeSampleCount,
      },
    async run(feeds: Record<string, Tensor>, ro: BackendRunOptions = {}) {
      await undefined;
      if (disposed) throw new EdgeqError("E_USAGE", "this compiled graph was disposed");
      if (threads > 1 && !pool) pool = await ThreadPool.start(inst, threads);
      if (pool) {
        const w = pool.wakeMs;
        const limit = opts.wakeRunMs ?? (w === undefined ? WAKE_RUN_MS : WAKE_FACTOR * w);
        pool.quiet = !splitLast || lastRunMs < limit;
        // a quiet pool takes no samples: now and then a run wakes it to take one
        if (pool.quiet && measured && splitLast && ++quietRuns % WAKE_REPROBE_RUNS === 0) {
          pool.quiet = false;
        }
        pool.wake();
      }
      if (idle !== undefined) clearTimeout(idle);
      idle = undefined;
      const p = pool, s0 = p?.splits ?? 0;
      const t0 = performance.now();
      try {
        return runSteps(feeds, ro);
      } finally {
        lastRunMs = performance.now() - t0;
        if (p) {
          splitLast = p.splits !== s0;
          p.endRun();
        }
        armIdle();
      }
    },
    dispose() {
      disposed = true;
      if (idle !== undefined) clearTimeout(idle);
      pool?.close();
      pool = undefined;
    },
  };

  function runSteps(feeds: Record<string, Tensor>, ro: BackendRunOptions): Record<string, Tensor> {
    {
      const buf = inst.memory.buffer;
      for (const v of g.inputs) {
        const t = feeds[v.name];
        const d = t.data;
        new Uint8Array(buf, env.addr(v.name), d.byteLength).set(
          new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
        );
      }
      const skipped = new Set<string>();
      const joins = new Map<string, number>();
      if (ro.skip?.size) {
        for (const b of g.blocks) {
          if (!ro.skip.has(b.index)) continue;
          for (const n of b.nodes) skipped.add(n);
          joins.set((b as { join?: string }).join ?? b.nodes[b.nodes.length - 1], b.index);
        }
      }
      for (let i = 0; i < steps.length; i++) {
        const name = g.nodes[i].name;
        if (skipped.has(name)) {
          const bi = joins.get(name);
          if (bi !== undefined) skipSteps.get(bi)!(env);
          continue;
        }
        if (profile) {
          const t0 = performance.now();
          steps[i](env);
          const key = `${name} (${g.nodes[i].op})`;
          profile.set(key, (profile.get(key) ?? 0) + performance.now() - t0);
        } else steps[i](env);
      }
      const out: Record<string, Tensor> = {};
      const b2 = inst.memory.buffer;
      for (const o of g.outputs) {
        const m = meta(o.name);
        const t = view(b2, m.dtype, m.shape, env.addr(o.name));
        out[o.name] = { ...t, data: t.data.slice() };
      }
      return out;
    }
  }
}
