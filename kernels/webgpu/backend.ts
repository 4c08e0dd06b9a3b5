/**
 * The WebGPU backend (`"webgpu"`): compiles a bound graph once — weights and constants
 * uploaded at compile, one pipeline per distinct shader (cached), activations in pooled
 * GPU buffers by liveness ({@link planMemory}), bind groups built once — and runs it with
 * one command encoder per inference and one readback of all outputs.
 *
 * Options (`BackendOptions`): `dot4: false` forces the integer-unpacking fallback even
 * where WGSL has `dot4I8Packed`; `lut: false` keeps 8-bit elementwise float chains as f32
 * kernels instead of exact `QLut` tables (quantizer/table_chains.ts; files from the current
 * quantizer already hold them).
 *
 * Errors: unsupported ops → `E_UNSUPPORTED_OP` at compile; shader/pipeline validation,
 * out-of-memory and limit violations → `E_BACKEND` naming the node or tensor; a lost
 * device → `E_BACKEND` on the next run, and the run after it re-initialises everything on
 * a fresh device.
 *
 * @example
 * ```ts
 * import { webgpuBackend } from "./kernels/webgpu/backend.ts";
 * const compiled = await webgpuBackend.compile(boundGraph, {}) as WebGpuCompiledGraph;
 * const out = await compiled.run({ input: x });
 * const layers = await compiled.profile({ input: x }); // [{ node, op, ms }]
 * ```
 * @module
 */
import type {
  Backend,
  BackendOptions,
  BackendRunOptions,
  CompiledGraph,
} from "../../runtime/backend.ts";
import { EdgeqError } from "../../runtime/errors.ts";
import type { Graph } from "../../runtime/graph.ts";
import { checkFeed } from "../../runtime/executor.ts";
import { allocData, size, type Tensor, type TensorData } from "../../runtime/tensor.ts";
import { acquireGpu, checkLost, type GpuContext, gpuUnavailable, scoped } from "./gpu.ts";
import { type BindingRef, type LowerCtx, toWords } from "./kernel.ts";
import { lowerNode } from "./lower.ts";
import { fuseTableChains } from "../../quantizer/table_chains.ts";
import { type Lifetime, planMemory } from "./plan.ts";
import { qgemmKernelName } from "./qconv.ts";

/** Time of one layer in {@link WebGpuCompiledGraph.profile}. */
export interface LayerTime {
  /** Node name. */
  node: string;
  /** Op type (with the kernel variant for QConv/QGemm, e.g. "QConv:qgemm_s8_dot4"). */
  op: string;
  /** Milliseconds on the GPU (timestamp queries) or wall clock (submit + wait). */
  ms: number;
}

/** Facts about a compiled graph (for reports and tests). */
export interface WebGpuInfo {
  adapter: string;
  dot4: boolean;
  timing: "timestamp-query" | "wall-clock";
  pipelines: number;
  dispatches: number;
  plannedBytes: number;
  naiveBytes: number;
  weightBytes: number;
}

/** A graph compiled for WebGPU, with a per-layer profile. */
export interface WebGpuCompiledGraph extends CompiledGraph {
  /** Runs once with every layer timed separately. */
  profile(feeds: Record<string, Tensor>): Promise<LayerTime[]>;
  /** What the compile produced. */
  info(): WebGpuInfo;
}

interface Step {
  node: string;
  op: string;
  /** Output value of the node (for residual-block skipping). */
  output: string;
  dispatches: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; groups: number[] }[];
}

const USAGE_STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const USAGE_READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

class Compiled implements WebGpuCompiledGraph {
  #g: Graph;
  #opts: BackendOptions;
  #ctx!: GpuContext;
  #steps: Step[] = [];
  #buffers: GPUBuffer[] = [];
  #valueBuf = new Map<string, GPUBuffer>();
  #root = new Map<string, string>();
  #info!: WebGpuInfo;
  #lostReported = false;
  #needsInit = false;
  #disposed = false;

  constructor(g: Graph, opts: BackendOptions) {
    this.#g = g;
    this.#opts = opts;
  }

  info(): WebGpuInfo {
    return this.#info;
  }

  #rootOf(name: string): string {
    let r = name;
    while (this.#root.has(r)) r = this.#root.get(r)!;
    return r;
  }

  async init(): Promise<void> {
    const g = this.#g;
    const ctx = await acquireGpu();
    this.#ctx = ctx;
    const device = ctx.device;
    const dot4 = ctx.dot4 && this.#opts.dot4 !== false;
    const meta = (name: string) => {
      const m = g.values.get(name);
      if (!m) throw new EdgeqError("E_BAD_MODEL", `value '${name}' has no static shape`);
      return m;
    };
    // 1. Lower every node (after replacing 8-bit elementwise float chains by tables).
    const inBlock = new Set(g.blocks.flatMap((b) => [...b.nodes, ...b.shortcutNodes]));
    const nodes = this.#opts.lut === false ? g.nodes : fuseTableChains(g.nodes, {
      constant: (t) => g.initializers.get(t),
      shape: (t) => g.values.get(t)?.shape,
      codeType: (t) => g.values.get(t)?.dtype === "int8" ? "int8" : "uint8",
      outputs: new Set(g.outputs.map((o) => o.name)),
      opset: g.opset,
      group: (n) => inBlock.has(n.name),
    }).nodes;
    const lowered = nodes.map((node) => {
      const lc: LowerCtx = {
        node,
        graph: g,
        meta,
        constant: (n) => g.initializers.get(n),
        dot4,
        limits: ctx.limits,
      };
      return lowerNode(lc);
    });
    this.#root.clear();
    lowered.forEach((l, i) => {
      if ("alias" in l) this.#root.set(nodes[i].outputs[0], l.alias);
    });
    // 2. Lifetimes of computed values (by root), then the plan.
    const maxBytes = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    const bytesOf = (name: string) => {
      const n = Math.max(1, size(meta(name).shape)) * 4;
      if (n > maxBytes) {
        throw new EdgeqError(
          "E_BACKEND",
          `WebGPU out of memory: ${n} bytes exceed the device's buffer limit (${maxBytes})`,
          { tensor: name },
        );
      }
      return n;
    };
    const life = new Map<string, Lifetime>();
    for (const v of g.inputs) {
      life.set(v.name, { name: v.name, bytes: bytesOf(v.name), def: -1, last: Infinity });
    }
    nodes.forEach((node, i) => {
      if ("alias" in lowered[i]) return;
      for (const o of node.outputs) {
        if (o && !life.has(o)) life.set(o, { name: o, bytes: bytesOf(o), def: i, last: i });
      }
    });
    nodes.forEach((node, i) => {
      for (const x of node.inputs) {
        const l = x ? life.get(this.#rootOf(x)) : undefined;
        if (l && l.last < i) l.last = i;
      }
    });
    for (const o of g.outputs) {
      const l = life.get(this.#rootOf(o.name));
      if (l) l.last = Infinity;
    }
    const plan = planMemory([...life.values()]);
    // 3. Buffers: pooled activations, then constants (uploaded once).
    this.#buffers = [];
    this.#valueBuf.clear();
    const slotBufs = await Promise.all(
      plan.sizes.map((bytes, s) =>
        scoped(
          device,
          {},
          `allocating activation buffer ${s} (${bytes} bytes)`,
          () => device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: USAGE_STORAGE }),
        )
      ),
    );
    this.#buffers.push(...slotBufs);
    for (const [name, slot] of plan.slots) this.#valueBuf.set(name, slotBufs[slot]);
    let weightBytes = 0;
    const upload = async (
      data: ArrayBufferView,
      label: string,
      where: { node?: string; tensor?: string },
    ) => {
      const bytes = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
      if (bytes > maxBytes) {
        throw new EdgeqError(
          "E_BACKEND",
          `WebGPU out of memory: constant of ${bytes} bytes exceeds the buffer limit`,
          where,
        );
      }
      const buf = await scoped(device, where, `uploading ${label}`, () => {
        const b = device.createBuffer({ size: bytes, usage: USAGE_STORAGE, label });
        device.queue.writeBuffer(
          b,
          0,
          data.buffer as ArrayBuffer,
          data.byteOffset,
          data.byteLength,
        );
        return b;
      });
      weightBytes += bytes;
      this.#buffers.push(buf);
      return buf;
    };
    const bufferFor = async (ref: BindingRef, node: string): Promise<GPUBuffer> => {
      if ("data" in ref) return await upload(ref.data, ref.label, { node });
      const r = this.#rootOf(ref.value);
      let b = this.#valueBuf.get(r);
      if (!b) {
        const t = g.initializers.get(r);
        if (!t) throw new EdgeqError("E_BAD_MODEL", `value '${r}' is not available`, { node });
        b = await upload(toWords(t), r, { tensor: r });
        this.#valueBuf.set(r, b);
      }
      return b;
    };
    // 4. Pipelines (cached by source) and bind groups.
    const pipelines = new Map<string, GPUComputePipeline>();
    let dispatches = 0;
    this.#steps = [];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i], l = lowered[i];
      if ("alias" in l) continue;
      const op = node.op === "QConv" || node.op === "QGemm"
        ? `${node.op}:${qgemmKernelName(node, dot4)}`
        : node.op;
      const step: Step = { node: node.name, op, output: node.outputs[0], dispatches: [] };
      for (const d of l.dispatches) {
        let pipeline = pipelines.get(d.code);
        if (!pipeline) {
          pipeline = await scoped(
            device,
            { node: node.name, op: node.op },
            "compiling the shader",
            () =>
              device.createComputePipeline({
                layout: "auto",
                compute: {
                  module: device.createShaderModule({ code: d.code, label: node.name }),
                  entryPoint: "main",
                },
                label: node.name,
              }),
          );
          pipelines.set(d.code, pipeline);
        }
        const entries: GPUBindGroupEntry[] = [];
        for (let b = 0; b < d.bindings.length; b++) {
          entries.push({
            binding: b,
            resource: { buffer: await bufferFor(d.bindings[b], node.name) },
          });
        }
        const p = pipeline;
        const bindGroup = await scoped(
          device,
          { node: node.name, op: node.op },
          "binding buffers",
          () => device.createBindGroup({ layout: p.getBindGroupLayout(0), entries }),
        );
        step.dispatches.push({ pipeline, bindGroup, groups: d.groups });
        dispatches++;
      }
      this.#steps.push(step);
    }
    // Graph inputs/outputs that are constants or inputs still need buffers.
    for (const o of g.outputs) await bufferFor({ value: o.name }, o.name);
    this.#info = {
      adapter: ctx.adapterName,
      dot4,
      timing: ctx.timestamps ? "timestamp-query" : "wall-clock",
      pipelines: pipelines.size,
      dispatches,
      plannedBytes: plan.plannedBytes,
      naiveBytes: plan.naiveBytes,
      weightBytes,
    };
    this.#lostReported = false;
  }

  async #ready(): Promise<void> {
    if (this.#disposed) throw new EdgeqError("E_USAGE", "this compiled graph was disposed");
    if (this.#ctx.lost && !this.#lostReported) {
      this.#lostReported = true;
      checkLost(this.#ctx, { node: this.#steps[0]?.node });
    }
    if (this.#ctx.lost || this.#needsInit) {
      this.#release();
      this.#needsInit = false;
      await this.init();
    }
  }

  #writeFeeds(feeds: Record<string, Tensor>): void {
    const q = this.#ctx.device.queue;
    for (const v of this.#g.inputs) {
      const t = checkFeed(this.#g, v.name, feeds[v.name]);
      const w = toWords(t);
      q.writeBuffer(
        this.#valueBuf.get(v.name)!,
        0,
        w.buffer as ArrayBuffer,
        w.byteOffset,
        w.byteLength,
      );
    }
  }

  #skipPlan(
    skip: ReadonlySet<number> | undefined,
  ): { skipped: Set<string>; copy: Map<string, string> } {
    const skipped = new Set<string>(), copy = new Map<string, string>();
    if (!skip?.size) return { skipped, copy };
    for (const b of this.#g.blocks) {
      if (!skip.has(b.index)) continue;
      for (const n of b.nodes) skipped.add(n);
      copy.set(b.output, b.shortcut);
    }
    return { skipped, copy };
  }

  /** Encodes every step; `perNode` gives each node its own (timed) pass. */
  #encode(
    enc: GPUCommandEncoder,
    skip: ReadonlySet<number> | undefined,
    perNode?: (k: number) => GPUComputePassDescriptor,
  ): void {
    const { skipped, copy } = this.#skipPlan(skip);
    let pass: GPUComputePassEncoder | null = null;
    const end = () => {
      pass?.end();
      pass = null;
    };
    this.#steps.forEach((s, k) => {
      if (skipped.has(s.node)) {
        const src = copy.get(s.output);
        if (src !== undefined) {
          end();
          const from = this.#valueBuf.get(this.#rootOf(src))!,
            to = this.#valueBuf.get(this.#rootOf(s.output))!;
          enc.copyBufferToBuffer(
            from,
            0,
            to,
            0,
            Math.max(1, size(this.#g.values.get(s.output)!.shape)) * 4,
          );
        }
        return;
      }
      if (perNode) {
        end();
        pass = enc.beginComputePass(perNode(k));
      } else if (!pass) pass = enc.beginComputePass();
      const p: GPUComputePassEncoder = pass;
      for (const d of s.dispatches) {
        p.setPipeline(d.pipeline);
        p.setBindGroup(0, d.bindGroup);
        p.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
      }
      if (perNode) end();
    });
    end();
  }

  async #submitChecked(enc: GPUCommandEncoder, what: string): Promise<void> {
    const device = this.#ctx.device;
    await scoped(device, {}, what, () => device.queue.submit([enc.finish()]));
  }

  async run(
    feeds: Record<string, Tensor>,
    opts: BackendRunOptions = {},
  ): Promise<Record<string, Tensor>> {
    await this.#ready();
    const device = this.#ctx.device;
    this.#writeFeeds(feeds);
    const outs = this.#g.outputs.map((o) => ({
      name: o.name,
      meta: this.#g.values.get(o.name)!,
      buf: this.#valueBuf.get(this.#rootOf(o.name))!,
    }));
    const offsets: number[] = [];
    let total = 0;
    for (const o of outs) {
      offsets.push(total);
      total += Math.max(1, size(o.meta.shape)) * 4;
    }
    const staging = device.createBuffer({ size: total, usage: USAGE_READBACK });
    try {
      const enc = device.createCommandEncoder();
      this.#encode(enc, opts.skip);
      outs.forEach((o, k) =>
        enc.copyBufferToBuffer(o.buf, 0, staging, offsets[k], Math.max(1, size(o.meta.shape)) * 4)
      );
      try {
        await this.#submitChecked(enc, "running the graph");
      } catch (e) {
        throw await this.#diagnose(opts.skip, e as EdgeqError);
      }
      try {
        await staging.mapAsync(1 /* GPUMapMode.READ */);
      } catch (e) {
        // A lost device fails the readback: report it once, re-initialise on the next run.
        this.#lostReported = true;
        this.#needsInit = true;
        throw new EdgeqError(
          "E_BACKEND",
          `WebGPU readback failed (device lost?): ${(e as Error).message}; ` +
            "the next run re-initialises the model",
          { node: this.#steps[this.#steps.length - 1]?.node },
        );
      }
      const words = staging.getMappedRange().slice(0);
      staging.unmap();
      const result: Record<string, Tensor> = {};
      outs.forEach((o, k) => {
        const n = size(o.meta.shape);
        result[o.name] = {
          dtype: o.meta.dtype,
          shape: [...o.meta.shape],
          data: fromWords(words, offsets[k], n, o.meta.dtype),
        };
      });
      return result;
    } finally {
      staging.destroy();
    }
  }

  /** Re-submits node by node to name the layer a run-time validation error came from. */
  async #diagnose(skip: ReadonlySet<number> | undefined, first: EdgeqError): Promise<EdgeqError> {
    const { skipped } = this.#skipPlan(skip);
    for (const s of this.#steps) {
      if (skipped.has(s.node)) continue;
      const enc = this.#ctx.device.createCommandEncoder();
      const p = enc.beginComputePass();
      for (const d of s.dispatches) {
        p.setPipeline(d.pipeline);
        p.setBindGroup(0, d.bindGroup);
        p.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
      }
      p.end();
      try {
        await this.#submitChecked(enc, `running ${s.op}`);
      } catch (e) {
        const err = e as EdgeqError;
        return new EdgeqError("E_BACKEND", err.message, { node: s.node, op: s.op });
      }
    }
    return first;
  }

  async profile(feeds: Record<string, Tensor>): Promise<LayerTime[]> {
    await this.#ready();
    const device = this.#ctx.device;
    this.#writeFeeds(feeds);
    const n = this.#steps.length;
    if (this.#ctx.timestamps && n > 0) {
      const qs = device.createQuerySet({ type: "timestamp", count: 2 * n });
      const resolve = device.createBuffer({ size: 16 * n, usage: 0x200 | 0x4 }); // QUERY_RESOLVE | COPY_SRC
      const read = device.createBuffer({ size: 16 * n, usage: USAGE_READBACK });
      try {
        const enc = device.createCommandEncoder();
        this.#encode(enc, undefined, (k) => ({
          timestampWrites: {
            querySet: qs,
            beginningOfPassWriteIndex: 2 * k,
            endOfPassWriteIndex: 2 * k + 1,
          },
        }));
        enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
        await this.#submitChecked(enc, "profiling the graph");
        await read.mapAsync(1);
        const t = new BigUint64Array(read.getMappedRange().slice(0));
        read.unmap();
        return this.#steps.map((s, k) => ({
          node: s.node,
          op: s.op,
          ms: Number(t[2 * k + 1] - t[2 * k]) / 1e6,
        }));
      } finally {
        qs.destroy();
        resolve.destroy();
        read.destroy();
      }
    }
    const times: LayerTime[] = [];
    for (let k = 0; k < n; k++) {
      const enc = device.createCommandEncoder();
      const s = this.#steps[k];
      const p = enc.beginComputePass();
      for (const d of s.dispatches) {
        p.setPipeline(d.pipeline);
        p.setBindGroup(0, d.bindGroup);
        p.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
      }
      p.end();
      const t0 = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      times.push({ node: s.node, op: s.op, ms: performance.now() - t0 });
    }
    return times;
  }

  #release(): void {
    for (const b of this.#buffers) b.destroy();
    this.#buffers = [];
    this.#valueBuf.clear();
    this.#steps = [];
  }

  dispose(): void {
    this.#disposed = true;
    this.#release();
  }
}

function fromWords(
  buf: ArrayBuffer,
  byteOffset: number,
  n: number,
  dtype: Tensor["dtype"],
): TensorData {
  if (dtype === "float32") return new Float32Array(buf.slice(byteOffset, byteOffset + n * 4));
  const w = new Int32Array(buf, byteOffset, n);
  const out = allocData(dtype, n);
  for (let i = 0; i < n; i++) out[i] = w[i];
  return out;
}

/**
 * The WebGPU backend object (registered as "webgpu" in runtime/backend.ts).
 *
 * @example
 * ```ts
 * const why = await webgpuBackend.unavailable(); // null where an adapter exists
 * ```
 */
export const webgpuBackend: Backend = {
  name: "webgpu",
  unavailable: gpuUnavailable,
  async compile(g: Graph, opts: BackendOptions): Promise<WebGpuCompiledGraph> {
    const c = new Compiled(g, opts);
    await c.init();
    return c;
  },
};
