/**
 * How long a parked worker takes to run again after a futex wake-up, by how long it had
 * been idle: the cost a thread pool pays at the start of a run that follows a pause
 * (bench/model_bench.ts pauses 25 ms before each timed run).
 *
 * `deno run --allow-read bench/wake_probe.ts [--rounds 40] [--pauses 25,5,1] [--spin 2]
 * [--caller spin|block]`
 *
 * One worker parks on Atomics.wait, as kernels/wasm/worker.ts does, and after each
 * wake-up spins `--spin` ms for the next one before parking again (the pool's spin). Per
 * round the calling thread sleeps `pause` ms (setTimeout), notifies, and then either
 * spins (`--caller spin`, as a run does: it goes on computing) or blocks in Atomics.wait
 * (`--caller block`) until the worker has counted the wake-up; the table gives that
 * latency's 10th, 50th and 90th percentiles in µs. A pause shorter than the spin finds
 * the worker still spinning.
 *
 * Seen on the 2-vCPU CI VM (2026-11-24): with the caller spinning, p50 2.1–3.7 ms after a
 * 25 or 5 ms pause with the pool's 2 ms spin, 0.35 ms with a 0.3 ms spin, 0.06–0.07 ms
 * with none; with the caller blocking, 0.02–0.04 ms. The woken worker is queued on the caller's
 * vCPU (the other, halted, vCPU is not taken as idle) and waits there until the caller
 * yields or the load balancer moves it. A yield after the notify was tried in the pool
 * and made runs worse (the caller then waited behind the spinning worker): a run after
 * idle on this VM gets its worker only milliseconds in.
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "40" },
    pauses: { type: "string", default: "25,5,1" },
    spin: { type: "string", default: "2" },
    caller: { type: "string", default: "spin" },
  },
});
const rounds = Number(values.rounds), spinMs = Number(values.spin);
const pauses = values.pauses!.split(",").map(Number);
const block = values.caller === "block";

// word 0: wake-up sequence, word 1: wake-ups the worker has counted, word 2: quit
const WORKER = `
self.onmessage = (e) => {
  const c = new Int32Array(e.data.sab), spin = e.data.spin;
  let last = Atomics.load(c, 0);
  postMessage("ready");
  for (;;) {
    // returns at once when a wake-up came during the spin below (it is counted, not missed)
    Atomics.wait(c, 0, last);
    if (Atomics.load(c, 2)) return;
    last = Atomics.load(c, 0);
    Atomics.add(c, 1, 1);
    Atomics.notify(c, 1);
    const t0 = performance.now();
    while (Atomics.load(c, 0) === last && performance.now() - t0 < spin);
  }
};`;

const sab = new SharedArrayBuffer(64);
const c = new Int32Array(sab);
const url = URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" }));
const w = new Worker(url, { type: "module" });
await new Promise<void>((res) => {
  w.onmessage = () => res();
  w.postMessage({ sab, spin: spinMs });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];

console.log(
  `worker wake-up latency after a pause (${rounds} rounds each, worker spin ${spinMs} ms, ` +
    `caller ${block ? "blocks" : "spins"})`,
);
console.log("| pause ms | p10 µs | p50 µs | p90 µs |");
console.log("|---|---|---|---|");
for (const pause of pauses) {
  const t: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await sleep(pause);
    const n0 = Atomics.load(c, 1);
    const t0 = performance.now();
    Atomics.add(c, 0, 1);
    Atomics.notify(c, 0);
    if (block) Atomics.wait(c, 1, n0, 100);
    while (Atomics.load(c, 1) === n0 && performance.now() - t0 < 100);
    t.push((performance.now() - t0) * 1000);
  }
  t.sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(0);
  console.log(`| ${pause} | ${f(pct(t, 0.1))} | ${f(pct(t, 0.5))} | ${f(pct(t, 0.9))} |`);
}
// a worker blocked in Atomics.wait is not stopped by terminate(): wake it to quit
Atomics.store(c, 2, 1);
Atomics.add(c, 0, 1);
Atomics.notify(c, 0);
w.terminate();
URL.revokeObjectURL(url);
