/**
 * A/B of two source trees of the wasm backend in one process: A = the kernels and compiler
 * of another checkout (`--base DIR`, e.g. `git archive HEAD | tar -x -C /tmp/base`), B =
 * this one. Both compile the same prepared graph and run alternately (medians), so that
 * the machine's noise hits both alike; `--nodes N` adds per-node medians of profiled runs.
 * `deno run -A bench/wasm_ab_tree.ts MODEL.eqp --base DIR [--threads 1,2] [--runs 30] [--nodes 12]`
 * @module
 */
import { loadPackedGraph } from "../runtime/packed_model.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { compileWasm } from "../kernels/wasm/compile.ts";
import { size, type Tensor } from "../runtime/tensor.ts";

const args = [...Deno.args];
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const threads = opt("--threads", "1,2").split(",").map(Number);
const runs = Number(opt("--runs", "30"));
const nodes = Number(opt("--nodes", "0"));
const base = opt("--base", "");
const path = args[0];
if (!path || !base) throw new Error("usage: wasm_ab_tree.ts MODEL.eqp --base DIR [--threads 1,2]");
const baseUrl = new URL(`file://${Deno.realPathSync(base)}/kernels/wasm/compile.ts`).href;
const compileA = (await import(baseUrl)).compileWasm as typeof compileWasm;

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
const feeds: Record<string, Tensor> = { [inp.name]: { dtype: "float32", shape, data: x } };
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const compile = (t: number, b: boolean, profile: boolean) =>
  (b ? compileWasm : compileA)(g, { threads: t, profile });

for (const t of threads) {
  const ab = [await compile(t, false, false), await compile(t, true, false)];
  const outs = [];
  for (const c of ab) outs.push(Object.values(await c.run(feeds))[0].data);
  const same = outs[0].length === outs[1].length && outs[0].every((v, i) => v === outs[1][i]);
  const times: number[][] = [[], []];
  for (let i = 0; i < 5; i++) for (const c of ab) await c.run(feeds);
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < 2; j++) {
      const k = (i & 1) ? 1 - j : j;
      const t0 = performance.now();
      await ab[k].run(feeds);
      times[k].push(performance.now() - t0);
    }
  }
  for (const c of ab) c.dispose();
  const [a, b] = times.map(med);
  console.log(
    `== ${path.split("/").pop()} threads ${t}: A(base) ${a.toFixed(3)} ms, ` +
      `B(this) ${b.toFixed(3)} ms, B/A ${(b / a).toFixed(3)}, same output ${same}`,
  );
  if (!nodes) continue;
  const pc = [await compile(t, false, true), await compile(t, true, true)];
  const per: Map<string, number[]>[] = [new Map(), new Map()];
  for (let i = 0; i < 3; i++) for (const c of pc) await c.run(feeds);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < 2; k++) {
      pc[k].profile!.clear();
      await pc[k].run(feeds);
      for (const [n, v] of pc[k].profile!.entries()) {
        if (!per[k].has(n)) per[k].set(n, []);
        per[k].get(n)!.push(v);
      }
    }
  }
  for (const c of pc) c.dispose();
  const rows = [...per[0].keys()].map((n) =>
    [n, med(per[0].get(n)!), med(per[1].get(n) ?? [0])] as const
  );
  const sum = (k: 1 | 2) => rows.reduce((acc, r) => acc + r[k], 0);
  console.log(`   sum of node medians: A ${sum(1).toFixed(3)} ms, B ${sum(2).toFixed(3)} ms`);
  for (const [n, va, vb] of rows.sort((p, q) => q[1] - p[1]).slice(0, nodes)) {
    console.log(`${va.toFixed(3).padStart(8)} ${vb.toFixed(3).padStart(8)}  ${n}`);
  }
}
