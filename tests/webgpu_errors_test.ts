/**
 * WebGPU failures become EdgeqErrors naming the layer or tensor: unsupported ops at
 * compile, buffers over the device limit, and a lost device (device.destroy()) — after
 * which the same compiled graph re-initialises on a fresh device and gives the same
 * bits again. Runs in its own test module because it destroys the shared device.
 */
import assert from "node:assert/strict";
import { acquireGpu, gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import { oneNodeGraph } from "../kernels/webgpu/check.ts";
import { webgpuBackend } from "../kernels/webgpu/backend.ts";
import { EdgeqError } from "../runtime/errors.ts";
import type { Tensor } from "../runtime/tensor.ts";

const why = await gpuUnavailable();
if (why) console.log(`webgpu error tests skipped: ${why}`);
const ignore = why !== null;

Deno.test({
  name: "webgpu: an unsupported op is E_UNSUPPORTED_OP naming the node",
  ignore,
  async fn() {
    const x: Tensor = { dtype: "float32", shape: [1, 2, 5, 5], data: new Float32Array(50) };
    const w: Tensor = {
      dtype: "float32",
      shape: [3, 2, 3, 3],
      data: new Float32Array(54).fill(0.5),
    };
    const g = oneNodeGraph({ op: "Conv", attrs: { kernel_shape: [3, 3] } }, { x }, { w });
    await assert.rejects(webgpuBackend.compile(g, {}), (e: unknown) => {
      assert.ok(e instanceof EdgeqError);
      assert.equal(e.code, "E_UNSUPPORTED_OP");
      assert.equal(e.where.node, "Conv_under_test");
      return true;
    });
  },
});

Deno.test({
  name: "webgpu: a value over the device's buffer limit is E_BACKEND naming the tensor",
  ignore,
  async fn() {
    const { limits } = await acquireGpu();
    const n = Math.floor(limits.maxStorageBufferBindingSize / 4) + 16;
    // shapes only: binding never touches the data
    const x: Tensor = { dtype: "float32", shape: [1, n], data: new Float32Array(0) };
    const g = oneNodeGraph(
      { op: "QuantizeLinear8", domain: "edgeq", attrs: { scale: 0.1, zero_point: 0 } },
      { x },
    );
    await assert.rejects(webgpuBackend.compile(g, {}), (e: unknown) => {
      assert.ok(e instanceof EdgeqError);
      assert.equal(e.code, "E_BACKEND");
      assert.match(e.message, /out of memory/);
      assert.equal(e.where.tensor, "x");
      return true;
    });
  },
});

Deno.test({
  name: "webgpu: device loss is E_BACKEND, then the model re-initialises",
  ignore,
  async fn() {
    const x: Tensor = {
      dtype: "float32",
      shape: [3, 17],
      data: Float32Array.from({ length: 51 }, (_, i) => Math.sin(i) * 4),
    };
    const g = oneNodeGraph(
      {
        op: "QuantizeLinear8",
        domain: "edgeq",
        attrs: { scale: 0.03, zero_point: -3, dtype: "int8" },
      },
      { x },
    );
    const c = await webgpuBackend.compile(g, {});
    const first = (await c.run({ x })).y;
    const ctx = await acquireGpu();
    ctx.device.destroy();
    await ctx.device.lost;
    await assert.rejects(c.run({ x }), (e: unknown) => {
      assert.ok(e instanceof EdgeqError);
      assert.equal(e.code, "E_BACKEND");
      assert.match(e.message, /lost/);
      assert.equal(e.where.node, "QuantizeLinear8_under_test");
      return true;
    });
    const again = (await c.run({ x })).y;
    assert.deepEqual(again.data, first.data);
    assert.notEqual((await acquireGpu()).device, ctx.device, "a fresh device");
    c.dispose();
  },
});
