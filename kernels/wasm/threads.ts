/**
 * The worker pool: T−1 workers share the kernels' WebAssembly.Memory (a
 * SharedArrayBuffer) with the calling thread. A parallel call writes the kernel id and
 * its arguments into a shared control block, wakes any parked worker (Atomics.notify),
 * and then the caller and the workers claim chunks of the call (contiguous ranges of the
 * kernel's split dimension: output rows / pixels / channels / elements) one at a time
 * until none is left; the caller returns when every chunk is done. Workers spin for a
 * while between calls (a run's calls come in bursts) before parking on the futex.
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

// Control block (Int32 words): SEQ counts calls; CLAIM holds (call tag << 7 | next chunk)
// and is taken with compare-exchange; DONE counts finished chunks; SLEEP counts workers
// parked on the futex; WOKE counts a parked worker's wake-ups (the pool's latency samples).
// Arguments are f64 from byte 64.
const SEQ = 0, FN = 1, NARGS = 2, TOTAL = 3, CHUNKS = 4, DONE = 5, ERR = 6, QUIT = 7;
const CLAIM = 8, SLEEP = 9, WOKE = 10;
const ARG0 = 16; // args as f64 from byte 64
const MAX_ARGS = 24;
/** CLAIM between calls: its tag matches no call, so a late worker claims nothing. */
const CLOSED = -1;
/**
 * A call of fewer grains than this runs on the calling thread while a worker is parked
 * (the worker is woken for the calls that follow). A grain is ~2^18 operations (step.ts).
 */
export const PARKED_INLINE_GRAINS = 32;

/** Wake-up latencies the pool keeps (the last ones; {@link ThreadPool.wakeMs} is their median). */
export const WAKE_SAMPLES = 8;

/** Chunks of a call per thread (the dynamic schedule's slack; at most 127 in all). */
export const CHUNKS_PER_THREAD = 4;

/**
 * How a parallel call of `total` items (at least `grain` per part) is cut: the number of
 * chunks (1 = run inline) for a pool of `threads`. Chunk i is
 * `[floor(total·i/n), floor(total·(i+1)/n))`; chunks go to whichever thread claims them
 * first, so a late or descheduled thread costs its share only once.
 *
 * @example
 * ```ts
 * chunkCount(1000, 64, 2); // 8
 * chunkCount(100, 64, 2); // 1: run inline
 * ```
 */
export function chunkCount(total: number, grain: number, threads: number): number {
  if (threads <= 1 || total <= 0) return 1;
  const most = Math.floor(total / Math.max(1, grain));
  return Math.max(1, Math.min(most, threads * CHUNKS_PER_THREAD, 127));
}

/**
 * Item range [lo, hi) of chunk `i` of `n` over `total` items.
 *
 * @example
 * ```ts
 * chunkRange(10, 3, 1); // [3, 6]
 * ```
 */
export function chunkRange(total: number, n: number, i: number): [number, number] {
  return [Math.floor((total * i) / n), Math.floor((total * (i + 1)) / n)];
}

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
  #splits = 0;
  #wakes = 0;
  /** When the pending wake-up was sent (performance.now()), or −1 when none is pending. */
  #wakeT0 = -1;
  /** WOKE before the pending wake-up was sent. */
  #woke0 = 0;
  #wakeSamples: number[] = [];
  #sampleCount = 0;
  /**
   * While set, a call leaves parked workers parked and runs on the calling thread unless
   * it has {@link PARKED_INLINE_GRAINS} grains (the compiled graph sets it for a run
   * expected to end before a parked worker would be up).
   */
  quiet = false;

  private constructor(
    inst: KernelInstance,
    ctrl: SharedArrayBuffer,
    workers: Worker[],
  ) {
    this.#ctrl = new Int32Array(ctrl, 0, ARG0);
    this.#ctrl[CLAIM] = CLOSED;
    this.#args = new Float64Array(ctrl, ARG0 * 4, MAX_ARGS);
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

  /**
   * Calls so far that were cut into more than one chunk (whether or not a parked worker
   * let them run split): the calls that have a use for the workers.
   */
  get splits(): number {
    return this.#splits;
  }

  /** Futex wake-ups that woke a parked worker so far (by {@link wake} or by a call). */
  get wakes(): number {
    return this.#wakes;
  }

  /**
   * The median of the last {@link WAKE_SAMPLES} wake-up latencies of {@link wake} (ms from
   * the futex wake-up at a run's start to a woken worker running again, seen from the
   * calling thread at its next parallel call or at {@link endRun}), or undefined before
   * the first. A worker still asleep at endRun gives the time so far: a lower bound. The
   * wake-ups of calls mid-run are not timed (a worker that parked a moment ago wakes
   * faster than one parked since the last run).
   */
  get wakeMs(): number | undefined {
    const s = [...this.#wakeSamples].sort((a, b) => a - b);
    return s.length ? s[s.length >> 1] : undefined;
  }

  /** The latency samples taken so far (all of them, also those no longer kept). */
  get wakeSampleCount(): number {
    return this.#sampleCount;
  }

  /**
   * Ends a run for the wake-up latency estimate: a wake-up still pending gives the time
   * since it was sent (the worker took at least that long) and is no longer followed.
   */
  endRun(): void {
    if (this.#wakeT0 >= 0) this.#sample(performance.now());
  }

  /** Records the pending wake-up's latency as seen at `now`. */
  #sample(now: number): void {
    this.#wakeSamples.push(now - this.#wakeT0);
    if (this.#wakeSamples.length > WAKE_SAMPLES) this.#wakeSamples.shift();
    this.#sampleCount++;
    this.#wakeT0 = -1;
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
    const ctrl = new SharedArrayBuffer(ARG0 * 4 + MAX_ARGS * 8);
    new Int32Array(ctrl)[CLAIM] = CLOSED;
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
   * Runs `fn(...args, lo, hi, tid)` over `[0, total)` in chunks of at least `grain` items
   * (chunkCount), claimed dynamically by the caller and the workers, and returns when all
   * chunks are done. The caller works too, so a sleeping worker delays nothing.
   */
  run(fn: string, args: number[], total: number, grain: number): void {
    if (this.#wakeT0 >= 0 && Atomics.load(this.#ctrl, WOKE) !== this.#woke0) {
      this.#sample(performance.now());
    }
    if (total <= 0) return;
    const n = chunkCount(total, grain, this.size);
    if (n === 1) {
      this.#k[fn](...args, 0, total, 0);
      return;
    }
    this.#splits++;
    const c = this.#ctrl;
    if (Atomics.load(c, SLEEP) > 0) {
      // a parked worker takes a futex wake-up (often 100+ µs on a VM) and then starts cold:
      // wake it for the calls that follow (unless quiet), and keep a small call on this thread
      const big = total >= PARKED_INLINE_GRAINS * Math.max(1, grain);
      if (!this.quiet || big) this.#notifyParked();
      if (!big) {
        this.#k[fn](...args, 0, total, 0);
        return;
      }
    }
    const id = this.#names.indexOf(fn);
    if (id < 0 || args.length > MAX_ARGS) {
      throw new EdgeqError("E_BACKEND", `bad kernel call ${fn}`);
    }
    this.#args.set(args);
    c[FN] = id;
    c[NARGS] = args.length;
    c[TOTAL] = total;
    c[CHUNKS] = n;
    Atomics.store(c, DONE, 0);
    const seq = (c[SEQ] + 1) | 0;
    Atomics.store(c, CLAIM, (seq & 0xffffff) << 7);
    Atomics.store(c, SEQ, seq);
    if (Atomics.load(c, SLEEP) > 0) this.#notifyParked();
    const f = this.#k[fn];
    let mine = 0;
    for (;;) {
      const v = Atomics.load(c, CLAIM), i = v & 127;
      if (i >= n) break;
      if (Atomics.compareExchange(c, CLAIM, v, v + 1) !== v) continue;
      const [lo, hi] = chunkRange(total, n, i);
      f(...args, lo, hi, 0);
      mine++;
    }
    const want = n - mine;
    let d: number;
    let spins = 0;
    while ((d = Atomics.load(c, DONE)) < want) {
      if (this.#canWait && ++spins > 4000) Atomics.wait(c, DONE, d, 1000);
    }
    Atomics.store(c, CLAIM, CLOSED);
    if (Atomics.load(c, ERR)) {
      c[ERR] = 0;
      throw new EdgeqError("E_BACKEND", `a wasm worker failed in ${fn}`);
    }
  }

  /**
   * Wakes parked workers without a call: they spin for a while (worker.ts) and so take
   * part in the calls that follow at once, instead of after a futex wake-up. A run calls
   * this first; the wake-up overlaps the run's first steps. Nothing while {@link quiet}.
   */
  wake(): void {
    if (!this.quiet && Atomics.load(this.#ctrl, SLEEP) > 0) this.#notifyParked(true);
  }

  /**
   * Wakes the workers parked on the futex, counting the wake-ups that woke one; `timed`:
   * the wake-up is timed unless one is pending (WOKE is read before the notify, so a
   * worker that is up at once is not missed).
   */
  #notifyParked(timed = false): void {
    const time = timed && this.#wakeT0 < 0;
    const woke = time ? Atomics.load(this.#ctrl, WOKE) : 0, t = time ? performance.now() : 0;
    if (Atomics.notify(this.#ctrl, SEQ) > 0) {
      this.#wakes++;
      if (time) [this.#wakeT0, this.#woke0] = [t, woke];
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
