/**
 * What the wasm benchmark scripts share: `--name value` options, a packed model prepared
 * for batch 1 with a seeded input in [−1, 1), and A/B timing of two compiled graphs run
 * alternately in one process (the machine's noise hits both alike).
 * @module
 */
import { loadPackedGraph } from "../runtime/packed_model.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import type { Graph } from "../runtime/graph.ts";
import { size, type Tensor } from "../runtime/tensor.ts";
import type { WasmCompiledGraph } from "../kernels/wasm/compile.ts";

/**
 * Takes `--name value` options out of `args` (the rest stays: the positionals).
 *
 * @example
 * ```ts
 * const args = [...Deno.args], opt = options(args);
 * const runs = Number(opt("--runs", "20"));
 * ```
 */
export function options(args: string[]): (name: string, def: string) => string {
  return (name, def) => {
    const i = args.indexOf(name);
    if (i < 0) return def;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
}

/**
 * A packed model prepared for batch 1, and feeds of a seeded input in [−1, 1).
 *
 * @example
 * ```ts
 * const { g, feeds } = await benchGraph("model.eqp");
 * ```
 */
export async function benchGraph(
  path: string,
): Promise<{ g: Graph; feeds: Record<string, Tensor> }> {
  const { graph } = loadPackedGraph(await Deno.readFile(path), path);
  const g = prepareGraph(graph, { batch: 1 });
  const inp = g.inputs[0];
  const shape = g.values.get(inp.name)!.shape;
  const x = new Float32Array(size(shape));
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 2 - 1;
  }
  return { g, feeds: { [inp.name]: { dtype: "float32", shape, data: x } } };
}

/**
 * Median (the upper one of an even count).
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(v: readonly number[]): number {
  return [...v].sort((a, b) => a - b)[v.length >> 1];
}

type Compiled = Pick<WasmCompiledGraph, "run" | "dispose" | "profile">;

/**
 * A/B of two compilations of one graph: `make(false)` = A, `make(true)` = B. Prints the
 * median whole-model ms of each (5 warm-up rounds, then `runs` rounds in alternating
 * order) and whether their first outputs are identical; with `nodes` > 0 also the sum of
 * per-node medians and the top `nodes` nodes (profiled compilations, `make(…, true)`).
 *
 * @example
 * ```ts
 * await abCompare("A(off) / B(on)", (b, profile) => compileWasm(g, { profile }), feeds, 30, 0);
 * ```
 */
export async function abCompare(
  label: string,
  make: (b: boolean, profile: boolean) => Promise<Compiled>,
  feeds: Record<string, Tensor>,
  runs: number,
  nodes: number,
  pauseMs = 0,
): Promise<void> {
  const pause = () => pauseMs > 0 ? new Promise((r) => setTimeout(r, pauseMs)) : undefined;
  const ab = [await make(false, false), await make(true, false)];
  const outs: Tensor["data"][] = [];
  for (const c of ab) outs.push(Object.values(await c.run(feeds))[0].data);
  const same = outs[0].length === outs[1].length && outs[0].every((v, i) => v === outs[1][i]);
  const times: number[][] = [[], []];
  for (let i = 0; i < 5; i++) for (const c of ab) await c.run(feeds);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < 2; j++) {
      const k = (i & 1) ? 1 - j : j;
      await pause();
      const t0 = performance.now();
      await ab[k].run(feeds);
      times[k].push(performance.now() - t0);
    }
  }
  for (const c of ab) c.dispose();
  const [a, b] = times.map(median);
  console.log(
    `== ${label}: A ${a.toFixed(3)} ms, B ${b.toFixed(3)} ms, B/A ${(b / a).toFixed(3)}, ` +
      `same output ${same}`,
  );
  if (!nodes) return;
  const pc = [await make(false, true), await make(true, true)];
  const per: Map<string, number[]>[] = [new Map(), new Map()];
  for (let i = 0; i < 3; i++) for (const c of pc) await c.run(feeds);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < 2; k++) {
      pc[k].profile!.clear();
      await pause();
      await pc[k].run(feeds);
      for (const [n, v] of pc[k].profile!.entries()) {
        if (!per[k].has(n)) per[k].set(n, []);
        per[k].get(n)!.push(v);
      }
    }
  }
  for (const c of pc) c.dispose();
  const rows = [...per[0].keys()].map((n) =>
    [n, median(per[0].get(n)!), median(per[1].get(n) ?? [0])] as const
  );
  const sum = (k: 1 | 2) => rows.reduce((acc, r) => acc + r[k], 0);
  console.log(`   sum of node medians: A ${sum(1).toFixed(3)} ms, B ${sum(2).toFixed(3)} ms`);
  for (const [n, va, vb] of rows.sort((p, q) => q[1] - p[1]).slice(0, nodes)) {
    console.log(`${va.toFixed(3).padStart(8)} ${vb.toFixed(3).padStart(8)}  ${n}`);
  }
}
