/**
 * Per-node profile of a packed model on the wasm backend (WasmOptions.profile):
 * `deno run -A bench/wasm_profile.ts MODEL.eqp [--threads 1,2] [--runs 20] [--top 15]`.
 * Prints, per thread count, the median whole-model ms and the top nodes by mean ms per
 * run, then totals by op type and by kernel called through the thread pool.
 * @module
 */
import { compileWasm } from "../kernels/wasm/compile.ts";
import { benchGraph, options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const threads = opt("--threads", "1,2").split(",").map(Number);
const runs = Number(opt("--runs", "20"));
const top = Number(opt("--top", "15"));
const path = args[0];
if (!path) throw new Error("usage: wasm_profile.ts MODEL.eqp [--threads 1,2] [--runs N]");

const { g, feeds } = await benchGraph(path);
for (const t of threads) {
  const plain = await compileWasm(g, { threads: t });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) await plain.run(feeds);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await plain.run(feeds);
    times.push(performance.now() - t0);
  }
  plain.dispose();
  times.sort((a, b) => a - b);
  const c = await compileWasm(g, { threads: t, profile: true });
  for (let i = 0; i < 3; i++) await c.run(feeds);
  c.profile!.clear();
  c.kernelProfile!.clear();
  for (let i = 0; i < runs; i++) await c.run(feeds);
  c.dispose();
  const rows = [...c.profile!.entries()].map(([k, v]) => [k, v / runs] as const);
  const total = rows.reduce((a, [, v]) => a + v, 0);
  console.log(
    `\n== ${path.split("/").pop()} threads ${t}: median ${
      times[times.length >> 1].toFixed(3)
    } ms, profiled sum ${total.toFixed(3)} ms, load ${Deno.loadavg().map((v) => v.toFixed(2))}`,
  );
  for (const [k, v] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${v.toFixed(3).padStart(8)}  ${k}`);
  }
  const byOp = new Map<string, number>();
  for (const [k, v] of rows) {
    const op = k.slice(k.lastIndexOf("(") + 1, -1);
    byOp.set(op, (byOp.get(op) ?? 0) + v);
  }
  console.log(
    "by op: " + [...byOp].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", "),
  );
  console.log(
    "by kernel (thread-pool calls): " +
      [...c.kernelProfile!].sort((a, b) => b[1] - a[1]).map(([k, v]) =>
        `${k} ${(v / runs).toFixed(3)}`
      ).join(", "),
  );
}
