/**
 * The committed wasm build: it matches its AssemblyScript sources (a stale build fails
 * here: run `deno task build`), both builds instantiate with shared and unshared memory,
 * feature detection picks the relaxed build where the engine has it, and bad options
 * give EdgeqErrors.
 */
import assert from "node:assert/strict";
import { SOURCE_HASH } from "../kernels/wasm/build/kernels_wasm.ts";
import { sourceHash } from "../kernels/wasm/sources.ts";
import { hasRelaxedSimd, instantiate, moduleBytes } from "../kernels/wasm/instance.ts";
import { compileWasm } from "../kernels/wasm/compile.ts";
import { nodesGraph } from "../kernels/wasm/testing.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { getBackend } from "../runtime/backend.ts";

Deno.test("wasm build: the committed module was built from the current sources", async () => {
  assert.equal(
    SOURCE_HASH,
    await sourceHash(),
    "kernels/wasm/build/kernels_wasm.ts is stale: run `deno task build` and commit it",
  );
});

Deno.test("wasm build: both builds instantiate (shared and unshared memory)", () => {
  for (const build of ["baseline", "relaxed"] as const) {
    for (const shared of [true, false]) {
      const i = instantiate({ pages: 2, build, shared });
      assert.equal(i.k.relaxed(), build === "relaxed" ? 1 : 0);
      assert.equal(i.memory.buffer instanceof SharedArrayBuffer, shared);
    }
    assert.notDeepEqual(moduleBytes(build, true), moduleBytes(build, false));
  }
  // Deno 2 (V8) validates relaxed SIMD: the default build is the relaxed one.
  assert.equal(hasRelaxedSimd(), true);
  assert.equal(instantiate({ pages: 1 }).build, "relaxed");
});

Deno.test("wasm backend: registered as 'wasm'; bad options are EdgeqErrors", async () => {
  const b = await getBackend("wasm");
  assert.equal(b.name, "wasm");
  const { graph } = nodesGraph([{
    op: "QRelu",
    attrs: { zero_point: 3 },
    inputs: [{ t: { dtype: "uint8", shape: [4], data: new Uint8Array([1, 2, 3, 4]) } }],
  }]);
  for (const threads of [0, 1.5, -2]) {
    await assert.rejects(
      () => compileWasm(graph, { threads }),
      (e) => e instanceof EdgeqError && e.code === "E_USAGE",
    );
  }
  const c = await compileWasm(graph, { threads: 1 });
  c.dispose();
  await assert.rejects(
    () => c.run({ x0_0: { dtype: "uint8", shape: [4], data: new Uint8Array(4) } }),
    (e) => e instanceof EdgeqError && e.code === "E_USAGE",
  );
});
