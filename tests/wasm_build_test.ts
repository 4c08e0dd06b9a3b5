/**
 * The committed wasm build: it matches its AssemblyScript sources (a stale build fails
 * here: run `deno task build`), every build instantiates with shared and unshared memory,
 * feature detection picks a relaxed build where the engine has it (the pair form where the
 * relaxed dot is lowered to pmaddubsw), and bad options
 * give EdgeqErrors.
 */
import assert from "node:assert/strict";
import { SOURCE_HASH } from "../kernels/wasm/build/kernels_wasm.ts";
import { sourceHash } from "../kernels/wasm/sources.ts";
import {
  defaultBuild,
  hasRelaxedSimd,
  instantiate,
  moduleBytes,
} from "../kernels/wasm/instance.ts";
import { relaxedDotLowering } from "../kernels/wasm/probes.ts";
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

Deno.test("wasm build: every build instantiates (shared and unshared memory)", () => {
  for (const build of ["baseline", "relaxed", "relaxed-pair"] as const) {
    for (const shared of [true, false]) {
      const i = instantiate({ pages: 2, build, shared });
      assert.equal(i.k.relaxed(), build === "baseline" ? 0 : 1);
      assert.equal(i.memory.buffer instanceof SharedArrayBuffer, shared);
    }
    assert.notDeepEqual(moduleBytes(build, true), moduleBytes(build, false));
  }
  assert.notDeepEqual(moduleBytes("relaxed", true), moduleBytes("relaxed-pair", true));
  // Deno 2 (V8) validates relaxed SIMD: the default build is a relaxed one, the pair form
  // exactly where the engine lowers the relaxed dot to pmaddubsw (x86 without AVX-VNNI).
  assert.equal(hasRelaxedSimd(), true);
  const low = relaxedDotLowering();
  assert.ok(["vnni", "pmaddubsw", "sdot", "other"].includes(low), low);
  if (Deno.build.arch === "aarch64") assert.notEqual(low, "pmaddubsw");
  assert.equal(defaultBuild(), low === "pmaddubsw" ? "relaxed-pair" : "relaxed");
  assert.equal(instantiate({ pages: 1 }).build, defaultBuild());
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
