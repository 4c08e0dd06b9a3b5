/**
 * What a pause before a run costs the wasm backend, and what brings it back: per round
 * (one compiled model A, a second compiled copy B of the same model: the same wasm code,
 * other memory), the median ms of a run of A
 *   - `b2b`: right after a run of A;
 *   - `pause`: after a sleep of `--pause` ms (the bench's regime, model_bench.ts);
 *   - `pause+spin`: after the sleep and then a busy loop of `--spin` ms (no memory touched):
 *     a clock that slowed down in the idle time would be back up;
 *   - `pause+copy`: after the sleep and then a run of B (code and predictors warm, A's data not);
 *   - `pause+self`: after the sleep and then a run of A.
 * `deno run -A bench/pause_probe.ts MODEL.eqp [--threads 1] [--rounds 40] [--pause 25] [--spin 2]`
 * @module
 */
import { compileWasm } from "../kernels/wasm/compile.ts";
import { benchGraph, options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const threads = Number(opt("--threads", "1"));
const rounds = Number(opt("--rounds", "40"));
const pauseMs = Number(opt("--pause", "25"));
const spinMs = Number(opt("--spin", "2"));
const path = args[0];
if (!path) throw new Error("usage: pause_probe.ts MODEL.eqp [--threads 1] [--rounds 40]");

const { g, feeds } = await benchGraph(path);
const a = await compileWasm(g, { threads }), b = await compileWasm(g, { threads });
const sleep = () => new Promise<void>((r) => setTimeout(r, pauseMs));
const spin = () => {
  const t0 = performance.now();
  while (performance.now() - t0 < spinMs);
};
const timeA = async () => {
  const t0 = performance.now();
  await a.run(feeds);
  return performance.now() - t0;
};
const before: Record<string, () => Promise<void> | void> = {
  "b2b": async () => void await a.run(feeds),
  "pause": sleep,
  "pause+spin": async () => (await sleep(), spin()),
  "pause+copy": async () => (await sleep(), void await b.run(feeds)),
  "pause+self": async () => (await sleep(), void await a.run(feeds)),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(before).map((k) => [k, []]));
try {
  for (let i = 0; i < 20; i++) await a.run(feeds), await b.run(feeds);
  for (let i = 0; i < rounds; i++) {
    for (const [k, f] of Object.entries(before)) {
      await f();
      times[k].push(await timeA());
    }
  }
} finally {
  a.dispose();
  b.dispose();
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(
  `${path.split("/").pop()} threads ${threads}, ${rounds} rounds, pause ${pauseMs} ms, ` +
    `spin ${spinMs} ms: median ms of a run ` +
    Object.entries(times).map(([k, v]) => `${k} ${median(v).toFixed(3)}`).join(", "),
);
