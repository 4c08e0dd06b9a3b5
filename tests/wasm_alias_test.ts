/**
 * Reshape-like copies (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share their
 * input's buffer in the wasm backend (fuse.ts fuseOptions.alias, memory.ts
 * mergeAliases): the planner's merge on its own, and graphs where a wrong lifetime would
 * show — a value placed over an aliased buffer that is still read — bit-exact against
 * kernels/ref, both builds, 1 and 2 threads.
 */
import assert from "node:assert/strict";
import { type Interval, mergeAliases, placeIntervals } from "../kernels/wasm/memory.ts";
import {
  compareWithRef,
  nodesGraph,
  qaddAttrs,
  Rng,
  TEST_CONFIGS,
  type TestNode,
} from "../kernels/wasm/testing.ts";
import { fusedCounts, fuseOptions } from "../kernels/wasm/fuse.ts";
import { quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import type { Tensor } from "../runtime/tensor.ts";

Deno.test("mergeAliases: chains share one root, the root covers every member's steps", () => {
  const iv = new Map<string, Interval>([
    ["x", { name: "x", bytes: 64, start: 0, end: 1 }],
    ["y", { name: "y", bytes: 64, start: 1, end: 2 }],
    ["z", { name: "z", bytes: 64, start: 2, end: 7 }],
    ["w", { name: "w", bytes: 32, start: 3, end: 4 }], // a different size: not merged
    ["v", { name: "v", bytes: 64, start: 2, end: 5 }],
  ]);
  const root = mergeAliases(iv, [["x", "y"], ["y", "z"], ["z", "w"], ["const", "v"]]);
  assert.deepEqual([...root], [["y", "x"], ["z", "x"]]);
  assert.deepEqual(iv.get("x"), { name: "x", bytes: 64, start: 0, end: 7 });
  assert.ok(!iv.has("y") && !iv.has("z") && iv.has("w") && iv.has("v"));
  // v overlaps the widened root in steps 2..5, so it must not share its bytes
  const { offsets } = placeIntervals([...iv.values()]);
  assert.notEqual(offsets.get("v"), offsets.get("x"));
});

function randQ(r: Rng, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = r.int(0, 255);
  return { dtype: "uint8", shape, data };
}

const i64 = (v: number[]): { t: Tensor; constant: true } => ({
  t: { dtype: "int64", shape: [v.length], data: Float64Array.from(v) },
  constant: true,
});

/**
 * n0 = relu(in) → Reshape → Unsqueeze → Squeeze → Flatten (a chain of 4 aliases, all
 * internal); n5 = relu of another input, the same size, computed after n0's own last
 * read (a placement over n0's bytes would corrupt the chain's end); n6 = n4 + n5; then an
 * Identity of a graph output and a Reshape of a graph input, both graph outputs.
 */
function aliasNodes(r: Rng, shape: number[]): TestNode[] {
  const n = shape.reduce((a, b) => a * b, 1);
  const q = (v: number) => quantizeMultiplier(v);
  const a = q(0.5), b = q(0.3), y = q(0.8);
  const relu = (t: Tensor): TestNode => ({
    op: "QRelu",
    attrs: { zero_point: 77 },
    inputs: [{ t }],
    internal: true,
  });
  // an internal copy of node `from`'s output (its other inputs constant)
  const copy = (op: string, from: number, rest: TestNode["inputs"], attrs = {}): TestNode => ({
    op,
    domain: "",
    attrs,
    inputs: [undefined, ...rest],
    from: { 0: from },
    internal: true,
  });
  return [
    relu(randQ(r, shape)), // 0
    copy("Reshape", 0, [i64([n])]), // 1: [n]
    copy("Unsqueeze", 1, [i64([0])]), // 2: [1, n]
    copy("Squeeze", 2, [i64([0])]), // 3: [n]
    copy("Flatten", 3, [], { axis: 0 }), // 4: [1, n]
    relu(randQ(r, [1, n])), // 5
    {
      op: "QAdd",
      attrs: { ...qaddAttrs(a, b, y, 77, 77, 2), dtype: "uint8" },
      inputs: [undefined, undefined],
      from: { 0: 4, 1: 5 },
    }, // 6: a graph output
    { op: "Identity", domain: "", attrs: {}, inputs: [undefined], from: { 0: 6 } }, // 7
    { op: "Reshape", domain: "", attrs: {}, inputs: [{ t: randQ(r, shape) }, i64([-1, shape[0]])] }, // 8
  ];
}

Deno.test("wasm aliased copies: chains, lifetimes, graph inputs and outputs (bit-exact)", async () => {
  const r = new Rng(91);
  for (const shape of [[3, 5, 7], [2, 33], [1, 1, 1], [4, 16, 16]]) {
    const { graph, feeds } = nodesGraph(aliasNodes(r, shape));
    for (const cfg of TEST_CONFIGS) {
      const before = fusedCounts.alias;
      const { mismatches, compiled } = await compareWithRef(graph, feeds, {
        ...cfg,
        splitAll: true,
      }, 0);
      assert.equal(
        fusedCounts.alias - before,
        6,
        "the 4 chained copies, the Identity, the input's Reshape",
      );
      assert.deepEqual(compiled.fallbacks, []);
      assert.deepEqual(
        mismatches,
        [],
        `${shape} ${cfg.build} ${cfg.threads}: ${JSON.stringify(mismatches.slice(0, 3))}`,
      );
    }
  }
  // the switch off: copies again, same results
  fuseOptions.alias = false;
  try {
    const { graph, feeds } = nodesGraph(aliasNodes(r, [3, 5, 7]));
    const before = fusedCounts.alias;
    const { mismatches } = await compareWithRef(graph, feeds, TEST_CONFIGS[1], 0);
    assert.equal(fusedCounts.alias, before);
    assert.deepEqual(mismatches, []);
  } finally {
    fuseOptions.alias = true;
  }
});
