/**
 * ONNX backend conformance: every case of Debian's libonnx-testdata (node,
 * pytorch-converted, pytorch-operator, simple) through import → prepare → execute,
 * compared with rtol 1e-3 / atol 1e-5. Cases the runtime reports unsupported are
 * skipped (with their reason in the printed summary); any other error or mismatch
 * fails the suite and is reported as a failing step named after the case.
 *
 * The runner lives in ./onnx_backend_cases.ts (also a script:
 * `deno run --allow-read tests/onnx_backend_cases.ts --verbose`).
 */
import assert from "node:assert/strict";
import { EdgeqError } from "../runtime/errors.ts";
import type { Tensor } from "../runtime/tensor.ts";
import {
  compareTensors,
  formatSummary,
  runSuite,
  type Suite,
  TESTDATA_ROOT,
  testdataPresent,
  unsupportedReason,
} from "./onnx_backend_cases.ts";

const present = testdataPresent();
if (!present) {
  console.log(
    `conformance: ${TESTDATA_ROOT} is absent (apt-get install libonnx-testdata); ` +
      "the ONNX backend suites are skipped",
  );
}

/**
 * Minimum number of cases that must run (not be skipped) per suite, a little below
 * today's counts (node 662, pytorch-converted 82, pytorch-operator 35, simple 7), so
 * that a change making whole families of cases "unsupported" fails loudly.
 */
const FLOORS: Record<Suite, number> = {
  node: 600,
  "pytorch-converted": 75,
  "pytorch-operator": 30,
  simple: 5,
};

for (const [suite, floor] of Object.entries(FLOORS)) {
  Deno.test({
    name: `onnx backend conformance: ${suite}`,
    ignore: !present,
    async fn(t) {
      const s = runSuite(suite);
      console.log(formatSummary(s));
      for (const r of s.results) {
        if (r.status !== "fail") continue;
        await t.step(`${suite}/${r.name}`, () => {
          throw new Error(r.reason);
        });
      }
      assert.equal(s.failed, 0, `${s.failed} ${suite} case(s) failed (see the steps above)`);
      assert.ok(s.ran > floor, `only ${s.ran} ${suite} cases ran, expected more than ${floor}`);
    },
  });
}

const f32 = (shape: number[], v: number[]): Tensor => ({
  dtype: "float32",
  shape,
  data: Float32Array.from(v),
});

Deno.test("conformance runner: tensor comparison", () => {
  assert.equal(compareTensors(f32([2], [1, NaN]), f32([2], [1.0005, NaN])), undefined);
  assert.match(compareTensors(f32([2], [1, 0]), f32([2], [1.002, 0]))!, /1\/2 elements differ/);
  assert.match(compareTensors(f32([2], [1, 0]), f32([2], [1, NaN]))!, /differ/);
  assert.match(compareTensors(f32([2], [1, 2]), f32([1, 2], [1, 2]))!, /shape \[2\]/);
  assert.match(
    compareTensors({ dtype: "float64", shape: [1], data: new Float64Array(1) }, f32([1], [0]))!,
    /dtype float64, expected float32/,
  );
  assert.match(compareTensors(f32([1], [Infinity]), f32([1], [-Infinity]))!, /differ/);
  const i64 = (v: number[]): Tensor => ({
    dtype: "int64",
    shape: [v.length],
    data: Float64Array.from(v),
  });
  assert.equal(compareTensors(i64([3, -1]), i64([3, -1])), undefined);
  assert.match(compareTensors(i64([3, 0]), i64([3, 1e-9]))!, /differ/);
  assert.match(compareTensors(undefined, i64([1]))!, /missing/);
});

Deno.test("conformance runner: what counts as unsupported", () => {
  const op = new EdgeqError("E_UNSUPPORTED_OP", "unsupported op Foo", { op: "Foo" });
  assert.equal(unsupportedReason(op)?.key, "op Foo");
  const dt = new EdgeqError("E_UNSUPPORTED_DTYPE", "element type BFLOAT16 is not supported");
  assert.equal(unsupportedReason(dt)?.key, "dtype bfloat16");
  const opset = new EdgeqError("E_BAD_MODEL", "default-domain opset 99 is outside 1..18");
  assert.ok(unsupportedReason(opset));
  assert.equal(unsupportedReason(new EdgeqError("E_SHAPE", "bad shape", { opset: 13 })), undefined);
  assert.equal(unsupportedReason(new EdgeqError("E_BAD_MODEL", "x (op Foo, opset 13)")), undefined);
  assert.equal(unsupportedReason(new RangeError("boom")), undefined);
});
