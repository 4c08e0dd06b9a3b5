/**
 * The wasm thread pool's chunk protocol (threads.ts, worker.ts) with real workers: every
 * chunk of every call runs exactly once, nothing outside the call's range is touched, and
 * back-to-back calls never mix (a late worker must not run a chunk of a finished call).
 * The probe kernel adds 1 in place (fbinary y = y + 1), so a chunk run twice or skipped
 * shows in the result. Calls vary in size and grain, some after a pause long enough for the
 * workers to park on the futex, some after a wake-up without a call (ThreadPool.wake);
 * pools of 2 and 4 threads (4 oversubscribes this machine's
 * 2 cores, so workers get preempted mid-call).
 */
import assert from "node:assert/strict";
import { instantiate } from "../kernels/wasm/instance.ts";
import { Arena } from "../kernels/wasm/memory.ts";
import { chunkCount, chunkRange, ThreadPool } from "../kernels/wasm/threads.ts";
import { Rng } from "../kernels/wasm/testing.ts";

Deno.test("chunkCount / chunkRange: 1 chunk when the call is small or single-threaded; ranges tile [0, total)", () => {
  assert.equal(chunkCount(1000, 64, 1), 1);
  assert.equal(chunkCount(100, 64, 2), 1);
  assert.equal(chunkCount(1000, 64, 2), 8);
  assert.equal(chunkCount(1000, 200, 2), 5);
  assert.equal(chunkCount(1e6, 1, 64), 127);
  for (const [total, n] of [[10, 3], [7, 7], [1000, 8], [5, 4]]) {
    let at = 0;
    for (let i = 0; i < n; i++) {
      const [lo, hi] = chunkRange(total, n, i);
      assert.equal(lo, at);
      assert.ok(hi >= lo);
      at = hi;
    }
    assert.equal(at, total);
  }
});

for (const threads of [2, 4]) {
  Deno.test(`wasm pool (${threads} threads): each chunk of each call runs exactly once`, async () => {
    const inst = instantiate({ pages: 1, shared: true });
    if (!inst.shared) return; // no SharedArrayBuffer here: the pool is never used
    const arena = new Arena(inst.memory);
    const cap = 4096;
    const y = arena.alloc(4 * (cap + 16)), one = arena.alloc(16);
    const pool = await ThreadPool.start(inst, threads);
    const r = new Rng(threads);
    try {
      new Float32Array(inst.memory.buffer, one, 1)[0] = 1;
      let split = 0;
      for (let call = 0; call < 20000; call++) {
        // mostly small calls: many call-to-call transitions, where a late worker could
        // run a chunk of the next call with the previous call's fields
        const total = call % 4 ? r.int(1, 64) : r.int(1, cap), grain = r.int(1, 8);
        const v = new Float32Array(inst.memory.buffer, y, cap + 16);
        for (let i = 0; i < v.length; i++) v[i] = i;
        if (call % 1000 === 0) await new Promise((res) => setTimeout(res, 3)); // workers park
        if (call % 1000 === 1 || call % 97 === 0) pool.wake(); // a wake-up without a call
        pool.run("fbinary", [0, y, cap + 16, one, 1, y], total, grain);
        if (chunkCount(total, grain, threads) > 1) split++;
        const w = new Float32Array(inst.memory.buffer, y, cap + 16);
        for (let i = 0; i < w.length; i++) {
          const want = i < total ? i + 1 : i;
          if (w[i] !== want) {
            assert.fail(
              `call ${call} (total ${total}, grain ${grain}): y[${i}] = ${w[i]}, want ${want}`,
            );
          }
        }
      }
      assert.ok(split > 10000, `only ${split} calls were split`);
    } finally {
      pool.close();
    }
  });
}

Deno.test("wasm pool: a wake-up of a parked worker is timed once, from the next call or endRun", async () => {
  const inst = instantiate({ pages: 1, shared: true });
  if (!inst.shared) return;
  const arena = new Arena(inst.memory);
  const y = arena.alloc(4 * 64), one = arena.alloc(16);
  const pool = await ThreadPool.start(inst, 2);
  const parked = () => new Promise((res) => setTimeout(res, 40)); // past the worker's spin
  try {
    assert.equal(pool.wakeMs, undefined);
    assert.equal(pool.wakeSampleCount, 0);
    await parked();
    const t0 = performance.now();
    pool.wake();
    assert.equal(pool.wakes, 1, "the parked worker was woken");
    // the woken worker counts itself (WOKE) and the next call sees it; the caller yields
    // between calls (on the 2-vCPU VM the worker may wait for that)
    while (pool.wakeSampleCount === 0 && performance.now() - t0 < 2000) {
      pool.run("fbinary", [0, y, 64, one, 1, y], 1, 1);
      await new Promise((res) => setTimeout(res, 1));
    }
    assert.equal(pool.wakeSampleCount, 1, "the wake-up seen at a call");
    pool.endRun();
    const t1 = performance.now();
    const ms = pool.wakeMs!;
    assert.ok(ms >= 0 && ms <= t1 - t0, `wake-up latency ${ms} ms within the ${t1 - t0} ms waited`);
    pool.endRun(); // nothing pending: no second sample
    assert.equal(pool.wakeSampleCount, 1);
    // three more wake-ups after the worker parked again: each timed once (endRun gives the
    // lower bound where the worker has not run yet), the median of the samples
    for (let i = 0; i < 3; i++) {
      await parked();
      pool.wake();
      pool.endRun();
    }
    assert.equal(pool.wakes, 4);
    assert.equal(pool.wakeSampleCount, 4);
    assert.ok(pool.wakeMs! >= 0);
  } finally {
    pool.close();
  }
});
