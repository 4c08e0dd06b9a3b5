/**
 * A wasm kernel worker (see threads.ts): instantiates the kernels on the shared memory
 * it is given, then serves parallel calls on the control block forever: on each new
 * call it claims chunks until none is left.
 * @module
 */
/// <reference lib="deno.worker" />

// The control block's layout (threads.ts).
const SEQ = 0, FN = 1, NARGS = 2, TOTAL = 3, CHUNKS = 4, DONE = 5, ERR = 6, QUIT = 7;
const CLAIM = 8, SLEEP = 9, WOKE = 10;
const ARG0 = 16, MAX_ARGS = 24;
/** How long a worker spins for the next call before parking on the futex (ms). */
const SPIN_MS = 0.3;
/** How long it spins after ThreadPool.wake (a run is starting) before parking again (ms). */
const WAKE_SPIN_MS = 2;

self.onmessage = (e: MessageEvent) => {
  const { bytes, memory, ctrl, tid } = e.data as {
    bytes: Uint8Array;
    memory: WebAssembly.Memory;
    ctrl: SharedArrayBuffer;
    tid: number;
  };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), {
    env: { memory },
  });
  const k = inst.exports as Record<string, (...a: number[]) => void>;
  const names = Object.keys(k).filter((n) => typeof k[n] === "function").sort();
  const c = new Int32Array(ctrl, 0, ARG0);
  const argv = new Float64Array(ctrl, ARG0 * 4, MAX_ARGS);
  let seq = Atomics.load(c, SEQ); // before "ready": no call can be missed
  self.postMessage("ready");
  let spin = SPIN_MS;
  for (;;) {
    // spin for a while (a run's calls come in bursts), then park on the futex
    if (Atomics.load(c, SEQ) === seq) {
      const t0 = performance.now();
      let i = 0;
      while (
        Atomics.load(c, SEQ) === seq && ((++i & 255) !== 0 || performance.now() - t0 < spin)
      );
    }
    if (Atomics.load(c, SEQ) === seq) {
      Atomics.add(c, SLEEP, 1);
      Atomics.wait(c, SEQ, seq);
      Atomics.sub(c, SLEEP, 1);
      Atomics.add(c, WOKE, 1);
    }
    if (Atomics.load(c, QUIT)) {
      self.close();
      return;
    }
    const now = Atomics.load(c, SEQ);
    if (now === seq) {
      // woken without a call (ThreadPool.wake: a run is starting): spin longer
      spin = WAKE_SPIN_MS;
      continue;
    }
    seq = now;
    spin = SPIN_MS;
    // this call's fields; the claims below fail if the call is over (CLAIM is then
    // closed or tagged with a later call), so fields read mid-change are never used
    const f = k[names[c[FN]]];
    const args = Array.from(argv.subarray(0, c[NARGS]));
    const total = c[TOTAL], n = c[CHUNKS], tag = seq & 0xffffff;
    let did = 0;
    for (;;) {
      const v = Atomics.load(c, CLAIM), i = v & 127;
      if (v >>> 7 !== tag || i >= n) break;
      if (Atomics.compareExchange(c, CLAIM, v, v + 1) !== v) continue;
      try {
        f(...args, Math.floor((total * i) / n), Math.floor((total * (i + 1)) / n), tid);
      } catch {
        Atomics.store(c, ERR, 1);
      }
      Atomics.add(c, DONE, 1);
      did++;
    }
    if (did) Atomics.notify(c, DONE);
  }
};
