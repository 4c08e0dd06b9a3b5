/**
 * A wasm kernel worker (see threads.ts): instantiates the kernels on the shared memory
 * it is given, then waits for parallel calls on the control block forever.
 * @module
 */
/// <reference lib="deno.worker" />

const SEQ = 0, FN = 1, NARGS = 2, TOTAL = 3, PARTS = 4, DONE = 5, ERR = 6, QUIT = 7;
const ARG0 = 8, MAX_ARGS = 24;

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
  const c = new Int32Array(ctrl, 0, ARG0 * 2);
  const args = new Float64Array(ctrl, ARG0 * 8, MAX_ARGS);
  let seq = Atomics.load(c, SEQ); // before "ready": no call can be missed
  self.postMessage("ready");
  for (;;) {
    // spin briefly (calls come in bursts during a run), then sleep on the futex
    for (let i = 0; i < 4000 && Atomics.load(c, SEQ) === seq; i++);
    Atomics.wait(c, SEQ, seq);
    seq = Atomics.load(c, SEQ);
    if (Atomics.load(c, QUIT)) {
      self.close();
      return;
    }
    const parts = c[PARTS];
    if (tid >= parts) continue;
    const total = c[TOTAL];
    const lo = Math.floor((total * tid) / parts), hi = Math.floor((total * (tid + 1)) / parts);
    try {
      k[names[c[FN]]](...Array.from(args.subarray(0, c[NARGS])), lo, hi, tid);
    } catch {
      Atomics.store(c, ERR, 1);
    }
    Atomics.add(c, DONE, 1);
    Atomics.notify(c, DONE);
  }
};
