/**
 * A/B of the wasm backend in one process: the model is compiled twice (A, B) and the two
 * run alternately, so that the machine's noise hits both alike. Prints the median
 * whole-model ms of each and, with `--nodes N`, per-node medians of profiled runs.
 *   `--switch NAME`  A = the kernel-path switch (ops_int8.ts convOptions / gemmOptions /
 *                    qaddOptions, fuse.ts fuseOptions) off,
 *                    B = on (default: k4);
 *   `--grain S`      B runs with every parallel grain scaled by S (WasmOptions.grainScale);
 *   `--base DIR`     A = the kernels and compiler of another checkout (e.g.
 *                    `git archive REV | tar -x -C /tmp/base`), B = this one.
 * `deno run -A bench/wasm_ab.ts MODEL.eqp [--switch k4 | --grain 0.5 | --base DIR]
 *   [--threads 1,2] [--runs 30] [--nodes 12] [--pause MS]`
 * `--pause MS` sleeps MS before each timed run (the bench's regime: each run starts
 * after the host has idled, bench/model_bench.ts PAUSE_MS).
 * @module
 */
import { compileWasm } from "../kernels/wasm/compile.ts";
import { convOptions, gemmOptions, qaddOptions } from "../kernels/wasm/ops_int8.ts";
import { fuseOptions } from "../kernels/wasm/fuse.ts";
import { abCompare, benchGraph, options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const threads = opt("--threads", "1,2").split(",").map(Number);
const runs = Number(opt("--runs", "30"));
const nodes = Number(opt("--nodes", "0"));
const base = opt("--base", "");
const grain = Number(opt("--grain", "0"));
const pauseMs = Number(opt("--pause", "0"));
const sw = opt("--switch", base || grain ? "" : "k4");
const switches = ([gemmOptions, fuseOptions, qaddOptions].find((o) => sw in o) ??
  convOptions) as Record<
    string,
    boolean
  >;
const path = args[0];
if (!path) {
  throw new Error("usage: wasm_ab.ts MODEL.eqp [--switch NAME | --grain S | --base DIR]");
}
const compileA: typeof compileWasm = base
  ? (await import(new URL(`file://${Deno.realPathSync(base)}/kernels/wasm/compile.ts`).href))
    .compileWasm
  : compileWasm;
const { g, feeds } = await benchGraph(path);

async function compile(t: number, on: boolean, profile: boolean) {
  if (base) return await (on ? compileWasm : compileA)(g, { threads: t, profile });
  if (grain) return await compileWasm(g, { threads: t, profile, grainScale: on ? grain : 1 });
  const keep = switches[sw];
  switches[sw] = on;
  try {
    return await compileWasm(g, { threads: t, profile });
  } finally {
    switches[sw] = keep;
  }
}

const what = base ? `A = ${base}, B = this tree` : grain ? `grain x${grain} in B` : `switch ${sw}`;
for (const t of threads) {
  await abCompare(
    `${path.split("/").pop()} threads ${t}, ${what}`,
    (on, profile) => compile(t, on, profile),
    feeds,
    runs,
    nodes,
    pauseMs,
  );
}
