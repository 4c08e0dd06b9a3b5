/**
 * The comparison peer: onnxruntime-web (wasm execution provider) run in this
 * process, on the same inputs as edgeq. Used by the agreement tests and by the
 * benchmark.
 *
 * `npm:onnxruntime-web` resolves to its node build in Deno: wasm EP with SIMD and
 * threads, fully offline (the .wasm file is read from node_modules, so the process
 * needs `--allow-read` on it; nothing else).
 *
 * **Threads are per process.** ORT-web has no per-session thread setting: the wasm
 * module is initialised once, on the first session creation, with
 * `ort.env.wasm.numThreads` threads, and later changes are ignored. {@link OrtPeer.create}
 * therefore fixes the count on first use and throws if a later call asks for a
 * different one. To measure several thread counts, use one process per count.
 *
 * ORT's worker threads keep handles open, so Deno tests that use it need
 * `sanitizeResources: false, sanitizeOps: false`.
 *
 * @example
 * ```ts
 * import { OrtPeer } from "./tests/peer/ort.ts";
 * const peer = await OrtPeer.create(await Deno.readFile("model.onnx"), { threads: 1 });
 * const out = await peer.run({ input: { shape: [1, 1, 28, 28], data: new Float32Array(784) } });
 * console.log(out.logits.shape, out.logits.data);
 * await peer.release();
 * ```
 * @module
 */
import * as ort from "onnxruntime-web";

/** A float32 tensor as fed to / returned by the peer (row-major). */
export interface F32Tensor {
  /** Static shape. */
  shape: number[];
  /** `shape.reduce(*)` elements. */
  data: Float32Array;
}

/** Options for {@link OrtPeer.create}. */
export interface OrtOptions {
  /**
   * Wasm threads for the whole process (see the module note). Default 1.
   * Fixed by the first session created; a later different value throws.
   */
  threads?: number;
  /** ORT graph optimisation level. Default "all" (what a user of ORT gets). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
}

let initThreads: number | undefined;

/** The wasm thread count ORT was initialised with, or undefined before the first session. */
export function ortThreads(): number | undefined {
  return initThreads;
}

/** onnxruntime-web's version string (e.g. "1.30.0"). */
export const ORT_VERSION: string = ort.env.versions.web ?? "unknown";

/**
 * One ORT inference session over an ONNX model; create once, run many times
 * (the benchmark times {@link OrtPeer.run} on a reused session).
 */
export class OrtPeer {
  /** Graph input names, in model order. */
  readonly inputNames: readonly string[];
  /** Graph output names, in model order. */
  readonly outputNames: readonly string[];
  /** Wasm threads this session runs with. */
  readonly threads: number;

  private constructor(private session: ort.InferenceSession, threads: number) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.threads = threads;
  }

  /**
   * Creates a session from ONNX model bytes on the wasm EP.
   *
   * @throws Error if `threads` differs from the count ORT was already initialised with.
   */
  static async create(model: Uint8Array, opts: OrtOptions = {}): Promise<OrtPeer> {
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new Error(`ort: threads must be a positive integer, got ${threads}`);
    }
    if (initThreads === undefined) {
      ort.env.wasm.numThreads = threads;
      initThreads = threads;
    } else if (initThreads !== threads) {
      throw new Error(
        `ort: wasm already initialised with ${initThreads} thread(s) in this process; ` +
          `${threads} needs a separate process`,
      );
    }
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
    });
    return new OrtPeer(session, threads);
  }

  /**
   * Runs the model on named float32 inputs and returns the requested outputs
   * (default: all graph outputs) by name, as fresh Float32Arrays.
   *
   * @throws Error for an output that is not float32.
   */
  async run(
    feeds: Record<string, F32Tensor>,
    outputs: readonly string[] = this.outputNames,
  ): Promise<Record<string, F32Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor("float32", t.data, t.shape);
    }
    const res = await this.session.run(ortFeeds, outputs as string[]);
    const out: Record<string, F32Tensor> = {};
    for (const name of outputs) {
      const t = res[name];
      if (t.type !== "float32") {
        throw new Error(`ort: output '${name}' is ${t.type}, expected float32`);
      }
      out[name] = { shape: [...t.dims], data: (t.data as Float32Array).slice() };
      t.dispose();
    }
    return out;
  }

  /** Frees the session (its wasm memory). The peer cannot run afterwards. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * One-shot convenience: create a session, run once, release.
 *
 * @example
 * ```ts
 * const { logits } = await runOrt(bytes, { input: { shape: [8, 1, 28, 28], data: x } });
 * ```
 */
export async function runOrt(
  model: Uint8Array,
  feeds: Record<string, F32Tensor>,
  opts: OrtOptions = {},
): Promise<Record<string, F32Tensor>> {
  const peer = await OrtPeer.create(model, opts);
  try {
    return await peer.run(feeds);
  } finally {
    await peer.release();
  }
}
