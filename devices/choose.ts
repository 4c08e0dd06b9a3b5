/**
 * Backend choice for `backend: "auto"`: candidates from the {@link DeviceProfile}, then
 * (when more than one can run) a short measured probe — one small int8 convolution
 * graph timed on each candidate — whose winner is cached per device in a JSON file at
 * the path the caller gives. Without a path nothing is written (the probe result lives
 * in this process only).
 *
 * Cache file: `{ "version": 1, "devices": { "<device key>": { backend, measured_ms,
 * at, summary } } }`; the key hashes the profile fields that decide speed (host
 * version, arch, cores, wasm features, GPU adapter).
 * @module
 */
import { EdgeqError } from "../runtime/errors.ts";
import { type BackendName, getBackend } from "../runtime/backend.ts";
import type { Graph, Node } from "../runtime/graph.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { QUANT_DOMAIN } from "../kernels/ref/quant/mod.ts";
import type { DeviceProfile } from "./detect.ts";

/** Options of {@link chooseBackend}. */
export interface ChooseOptions {
  /** JSON cache file for the probe result (read, and written after a probe). */
  cachePath?: string;
  /** Threads for the wasm probe. */
  threads?: number;
  /** Skip the probe: decide from the profile alone. */
  noProbe?: boolean;
}

/** What {@link chooseBackend} decided and why. */
export interface BackendChoice {
  backend: BackendName;
  /** One line. */
  reason: string;
  /** Probe medians per candidate (ms), when a probe ran or was cached. */
  measured?: Partial<Record<BackendName, number>>;
  /** The choice came from the cache file. */
  cached: boolean;
}

interface CacheFile {
  version: 1;
  devices: Record<
    string,
    {
      backend: BackendName;
      measured_ms: Partial<Record<BackendName, number>>;
      at: string;
      summary: string;
    }
  >;
}

/**
 * A stable key for a device (FNV-1a of the speed-relevant profile fields).
 *
 * @example
 * ```ts
 * deviceKey(await detectProfile()); // "deno-x86_64-2c-5f3a9c1e"
 * ```
 */
export function deviceKey(p: DeviceProfile): string {
  const s = JSON.stringify([
    p.host,
    p.hostVersion,
    p.os,
    p.arch,
    p.cores,
    p.wasm,
    p.webgpu.available,
    p.webgpu.description,
    p.webgpu.vendor,
    p.webgpu.device,
  ]);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return `${p.host}-${p.arch}-${p.cores}c-${h.toString(16).padStart(8, "0")}`;
}

/**
 * Backends the profile allows, best first by the static rule (before measuring).
 *
 * @example
 * ```ts
 * candidates(await detectProfile()); // e.g. ["wasm", "webgpu", "ref"] with a fallback GPU
 * ```
 */
export function candidates(p: DeviceProfile): BackendName[] {
  const out: BackendName[] = [];
  const gpuFirst = p.webgpu.available && !p.webgpu.fallback;
  if (gpuFirst) out.push("webgpu");
  if (p.wasm.simd) out.push("wasm");
  if (p.webgpu.available && !gpuFirst) out.push("webgpu");
  out.push("ref");
  return out;
}

/**
 * The probe: x [1,16,24,24] → Q → QConv 3×3 16→32 (ReLU) → QConv 1×1 32→16 → DQ.
 *
 * @example
 * ```ts
 * const g = prepareGraph(probeGraph(), { batch: 1 });
 * const c = await (await getBackend("wasm")).compile(g, {});
 * ```
 */
export function probeGraph(): Graph {
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16) / 65536;
  const i8 = (n: number) => Int8Array.from({ length: n }, () => Math.round(rnd() * 200 - 100));
  const q = (
    name: string,
    op: string,
    inputs: string[],
    outputs: string[],
    attrs: Node["attrs"],
  ) => ({
    name,
    op,
    domain: QUANT_DOMAIN,
    inputs,
    outputs,
    attrs,
  });
  const init = new Map([
    ["w1", { dtype: "int8" as const, shape: [32, 16, 3, 3], data: i8(32 * 16 * 9) }],
    ["w2", { dtype: "int8" as const, shape: [16, 32, 1, 1], data: i8(16 * 32) }],
  ]);
  return {
    name: "probe",
    opset: 13,
    inputs: [{ name: "x", dtype: "float32", shape: [1, 16, 24, 24] }],
    outputs: [{ name: "y", dtype: "float32", shape: [1, 16, 24, 24] }],
    initializers: init,
    nodes: [
      q("q", "QuantizeLinear8", ["x"], ["xq"], { scale: 0.02, zero_point: 128 }),
      q("c1", "QConv", ["xq", "w1"], ["h"], {
        pads: [1, 1, 1, 1],
        x_zp: 128,
        mult: 1500000000,
        shift: -10,
        y_zp: 0,
        qmin: 0,
      }),
      q("c2", "QConv", ["h", "w2"], ["yq"], { x_zp: 0, mult: 1500000000, shift: -9, y_zp: 128 }),
      q("dq", "DequantizeLinear8", ["yq"], ["y"], { scale: 0.05, zero_point: 128 }),
    ],
    values: new Map(),
    blocks: [],
  };
}

async function probe(name: BackendName, threads?: number): Promise<number> {
  const b = await getBackend(name);
  const g = prepareGraph(probeGraph(), { batch: 1 });
  const c = await b.compile(g, threads ? { threads } : {});
  try {
    const x = {
      dtype: "float32" as const,
      shape: [1, 16, 24, 24],
      data: new Float32Array(16 * 576),
    };
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sin(i) * 2;
    await c.run({ x });
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await c.run({ x });
      ms.push(performance.now() - t0);
    }
    return ms.sort((a, b) => a - b)[2];
  } finally {
    c.dispose();
  }
}

async function readCache(path: string): Promise<CacheFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { version: 1, devices: {} };
    throw new EdgeqError("E_USAGE", `cannot read backend cache: ${(e as Error).message}`, { path });
  }
  try {
    const j = JSON.parse(text);
    if (j?.version === 1 && j.devices && typeof j.devices === "object") return j;
  } catch { /* rewritten below */ }
  throw new EdgeqError("E_FORMAT", "backend cache is not an edgeq backend cache (version 1)", {
    path,
  });
}

async function writeCache(path: string, c: CacheFile) {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, JSON.stringify(c, null, 1) + "\n");
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new EdgeqError("E_USAGE", `cannot write backend cache: ${(e as Error).message}`, {
      path,
    });
  }
}

/**
 * Picks the backend for this device (see the module doc).
 *
 * @example
 * ```ts
 * const p = await detectProfile();
 * const { backend, reason } = await chooseBackend(p, { cachePath: "/tmp/edgeq-backend.json" });
 * const model = await load("model.eqp", { backend });
 * ```
 */
export async function chooseBackend(
  p: DeviceProfile,
  opts: ChooseOptions = {},
): Promise<BackendChoice> {
  const key = deviceKey(p);
  let cache: CacheFile | undefined;
  if (opts.cachePath) {
    cache = await readCache(opts.cachePath);
    const hit = cache.devices[key];
    if (hit && (BACKEND_OK as readonly string[]).includes(hit.backend)) {
      try {
        await getBackend(hit.backend);
        return {
          backend: hit.backend,
          reason: `cached probe result for ${key}`,
          measured: hit.measured_ms,
          cached: true,
        };
      } catch { /* the cached backend no longer loads: probe again */ }
    }
  }
  const usable: BackendName[] = [];
  const why: string[] = [];
  for (const c of candidates(p)) {
    try {
      await getBackend(c);
      usable.push(c);
    } catch (e) {
      why.push((e as Error).message);
    }
  }
  if (usable.length === 1 || opts.noProbe) {
    return {
      backend: usable[0],
      reason: opts.noProbe
        ? "profile rule (no probe)"
        : `only ${usable[0]} can run here (${why.join("; ")})`,
      cached: false,
    };
  }
  const measured: Partial<Record<BackendName, number>> = {};
  for (const c of usable) {
    try {
      measured[c] = await probe(c, opts.threads);
    } catch (e) {
      why.push(`${c}: ${(e as Error).message}`);
    }
  }
  const ranked = (Object.entries(measured) as [BackendName, number][]).sort((a, b) => a[1] - b[1]);
  const backend = ranked[0]?.[0] ?? "ref";
  const choice: BackendChoice = {
    backend,
    reason: `measured probe: ${ranked.map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join(", ")}`,
    measured,
    cached: false,
  };
  if (opts.cachePath && cache) {
    cache.devices[key] = {
      backend,
      measured_ms: measured,
      at: new Date().toISOString(),
      summary: p.summary,
    };
    await writeCache(opts.cachePath, cache);
  }
  return choice;
}

const BACKEND_OK = ["ref", "wasm", "webgpu"] as const;
