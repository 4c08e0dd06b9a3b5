/**
 * The worker pool: T−1 workers share the kernels' WebAssembly.Memory (a
 * SharedArrayBuffer) with the calling thread. A parallel call writes the kernel id and
 * its arguments into a shared control block, wakes the workers (Atomics.notify), runs
 * part 0 itself and waits for the others. Each part is a contiguous range of the
 * kernel's split dimension (output rows / pixels / channels / elements).
 * @module
 */
import { EdgeqError } from "../../runtime/errors.ts";
import { type KernelInstance, moduleBytes } from "./instance.ts";

/**
 * The web Worker constructor as it was when this module loaded. onnxruntime-web's node
 * build replaces `globalThis.Worker` with Node's worker_threads shim (class NodeWorker),
 * which cannot run these workers; the pool uses the web one when it can find it.
 */
const WEB_WORKER: typeof Worker | undefined = globalThis.Worker?.name === "NodeWorker"
  ? undefined
  : globalThis.Worker;

/**
 * True when web Workers can be started here (false under onnxruntime-web's Node shim
 * when no web Worker was seen, and where Worker does not exist).
 *
 * @example
 * ```ts
 * const threads = canSpawnWorkers() ? 2 : 1;
 * ```
 */
export function canSpawnWorkers(): boolean {
  return webWorker() !== undefined;
}

/** The web Worker constructor, or undefined where only a Node shim is installed. */
function webWorker(): typeof Worker | undefined {
  const cur = globalThis.Worker;
  if (cur && cur.name !== "NodeWorker") return cur;
  return WEB_WORKER;
}

const SEQ = 0, FN = 1, NARGS = 2, TOTAL = 3, PARTS = 4, DONE = 5, ERR = 6, QUIT = 7;
const ARG0 = 8; // args as f64 from byte 64
const MAX_ARGS = 24;

/**
 * Names of the callable kernel exports, sorted: the id a worker receives.
 *
 * @example
 * ```ts
 * kernelNames(inst.k).indexOf("gemm_rows"); // the id workers receive
 * ```
 */
export function kernelNames(exports: object): string[] {
  return Object.keys(exports).filter((n) =>
    typeof (exports as Record<string, unknown>)[n] === "function"
  ).sort();
}

/**
 * A pool of workers bound to one kernel instance.
 *
 * @example
 * ```ts
 * const pool = await ThreadPool.start(inst, 2);
 * pool.run("qrelu", [x, 0, 0, y], n, 4096);
 * pool.close();
 * ```
 */
export class ThreadPool {
  #ctrl: Int32Array;
  #args: Float64Array;
  #workers: Worker[];
  #names: string[];
  #k: Record<string, (...a: number[]) => void>;
  #canWait: boolean;

  private constructor(
    inst: KernelInstance,
    ctrl: SharedArrayBuffer,
    workers: Worker[],
  ) {
    this.#ctrl = new Int32Array(ctrl, 0, ARG0 * 2);
    this.#args = new Float64Array(ctrl, ARG0 * 8, MAX_ARGS);
    this.#workers = workers;
    this.#names = kernelNames(inst.k);
    this.#k = inst.k as unknown as Record<string, (...a: number[]) => void>;
    this.#canWait = (() => {
      try {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
        return true;
      } catch {
        return false; // a browser's main thread
      }
    })();
  }

  /** Threads in the pool (workers + the caller). */
  get size(): number {
    return this.#workers.length + 1;
  }

  /** Starts `threads − 1` workers on the instance's shared memory. */
  static async start(inst: KernelInstance, threads: number): Promise<ThreadPool> {
    if (!inst.shared) throw new EdgeqError("E_BACKEND", "threads need a shared wasm memory");
    const WebWorker = webWorker();
    if (!WebWorker) {
      throw new EdgeqError(
        "E_BACKEND",
        "no web Worker here (globalThis.Worker is a Node worker_threads shim): use threads: 1",
      );
    }
    const ctrl = new SharedArrayBuffer(ARG0 * 8 + MAX_ARGS * 8);
    const bytes = moduleBytes(inst.build, true);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let t = 1; t < threads; t++) {
      const w = new WebWorker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      workers.push(w);
      ready.push(
        new Promise((res, rej) => {
          w.onmessage = (e) => (e.data === "ready" ? res() : rej(new Error(String(e.data))));
          w.onerror = (e) => {
            e.preventDefault();
            rej(new Error(e.message));
          };
        }),
      );
      w.postMessage({ bytes, memory: inst.memory, ctrl, tid: t });
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new EdgeqError("E_BACKEND", `wasm worker failed to start: ${(e as Error).message}`);
    }
    return new ThreadPool(inst, ctrl, workers);
  }

  /**
   * Runs `fn(...args, lo, hi, tid)` over `[0, total)` in up to `size` parts of at least
   * `grain` items, and returns when all parts are done.
   */
  run(fn: string, args: number[], total: number, grain: number): void {
    if (total <= 0) return;
    const parts = Math.max(1, Math.min(this.size, Math.floor(total / Math.max(1, grain))));
    if (parts === 1) {
      this.#k[fn](...args, 0, total, 0);
      return;
    }
    const id = this.#names.indexOf(fn);
    if (id < 0 || args.length > MAX_ARGS) {
      throw new EdgeqError("E_BACKEND", `bad kernel call ${fn}`);
    }
    const c = this.#ctrl;
    this.#args.set(args);
    c[FN] = id;
    c[NARGS] = args.length;
    c[TOTAL] = total;
    c[PARTS] = parts;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
    this.#k[fn](...args, 0, Math.floor(total / parts), 0);
    const want = parts - 1;
    let d: number;
    let spins = 0;
    while ((d = Atomics.load(c, DONE)) < want) {
      if (this.#canWait && ++spins > 4000) Atomics.wait(c, DONE, d, 1000);
    }
    if (Atomics.load(c, ERR)) {
      c[ERR] = 0;
      throw new EdgeqError("E_BACKEND", `a wasm worker failed in ${fn}`);
    }
  }

  /** Stops the workers. */
  close(): void {
    Atomics.store(this.#ctrl, QUIT, 1);
    Atomics.add(this.#ctrl, SEQ, 1);
    Atomics.notify(this.#ctrl, SEQ);
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
