/**
 * The quiet-pool rule (WasmOptions.wakeRunMs) against always waking, with onnxruntime-web
 * f32 running in the same process as in `deno task bench` (its threads share the CPUs):
 *
 * `deno run -A bench/quiet_probe.ts MODEL.eqp MODEL.onnx [--rounds 60] [--threads 2]`
 *
 * Each round runs, after a 25 ms pause each: ORT, edgeq at 1 thread, edgeq at `--threads`
 * with wakeRunMs 0 (a run always wakes parked workers, the rule before) and with the
 * default rule; each is run twice, the first time after the pause, the second back to back.
 * Prints the medians of both and the pools' counters.
 * @module
 */
import { compileWasm } from "../kernels/wasm/compile.ts";
import { OrtPeer } from "../tests/peer/ort.ts";
import { benchGraph, options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const rounds = Number(opt("--rounds", "60"));
const threads = Number(opt("--threads", "2"));
const [eqp, onnx] = args;
if (!eqp || !onnx) throw new Error("usage: quiet_probe.ts MODEL.eqp MODEL.onnx [--rounds N]");

const { g, feeds } = await benchGraph(eqp);
const inName = g.inputs[0].name, x = feeds[inName];
const peer = await OrtPeer.create(await Deno.readFile(onnx), { threads });
const ortFeeds = { [inName]: { shape: x.shape, data: x.data as Float32Array } };
const one = await compileWasm(g, { threads: 1 });
const always = await compileWasm(g, { threads, wakeRunMs: 0 });
const rule = await compileWasm(g, { threads });
const runners: [string, () => Promise<unknown>][] = [
  [`ort f32 ${threads}t`, () => peer.run(ortFeeds)],
  ["edgeq 1t", () => one.run(feeds)],
  [`edgeq ${threads}t always wake`, () => always.run(feeds)],
  [`edgeq ${threads}t quiet rule`, () => rule.run(feeds)],
];
const paused: number[][] = runners.map(() => []), b2b: number[][] = runners.map(() => []);
for (const [, run] of runners) for (let i = 0; i < 3; i++) await run();
for (let r = 0; r < rounds; r++) {
  for (let j = 0; j < runners.length; j++) {
    await new Promise((res) => setTimeout(res, 25));
    let t0 = performance.now();
    await runners[j][1]();
    paused[j].push(performance.now() - t0);
    t0 = performance.now();
    await runners[j][1]();
    b2b[j].push(performance.now() - t0);
  }
}
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
runners.forEach(([name], j) => {
  console.log(
    `${name.padEnd(26)} after pause ${med(paused[j]).toFixed(3)} ms, b2b ${
      med(b2b[j]).toFixed(3)
    } ms`,
  );
});
console.log("pools:", JSON.stringify({ always: always.poolStats(), rule: rule.poolStats() }));
for (const c of [one, always, rule]) c.dispose();
await peer.release();
