/**
 * The float reference runtime (import → prepareGraph → execute on kernels/ref)
 * against onnxruntime-web (wasm EP, 1 thread, same process, same inputs), and
 * against the torch logits recorded when the fixtures were exported.
 *
 * Figure of merit, per model, over the whole logits tensor:
 *
 *     relative error = max_i |ours_i - peer_i| / max_i |peer_i|
 *
 * where peer is ORT (or torch). Every model must be within 1e-4.
 *
 * Fixtures: the five Fashion-MNIST models on the first 8 t10k images
 * (pixel/255, NCHW [8,1,28,28]). Zoo (optional, .cache/zoo/, produced by
 * `/usr/bin/python3 tools/export_zoo.py`): resnet18, mobilenet_v2, vit_tiny on
 * their recorded [1,3,224,224] input; skipped with a printed reason when absent.
 *
 * Run: `deno test --allow-read tests/ort_agreement_test.ts`
 * (ORT reads its .wasm from node_modules; it needs no other permission).
 */
import assert from "node:assert/strict";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { execute } from "../runtime/executor.ts";
import { type F32Tensor, OrtPeer } from "./peer/ort.ts";

const ROOT = new URL("../", import.meta.url);
const FIX = new URL("tests/fixtures/", ROOT);
const ZOO = new URL(".cache/zoo/", ROOT);
const TOL = 1e-4;
const ORT_OPTS = { sanitizeResources: false, sanitizeOps: false };

/** max|a-b| and max|a-b| / max|b| (b is the peer). */
function compare(ours: Float32Array, peer: ArrayLike<number>): { abs: number; rel: number } {
  assert.equal(ours.length, peer.length, "logits length");
  let abs = 0, ref = 0;
  for (let i = 0; i < ours.length; i++) {
    abs = Math.max(abs, Math.abs(ours[i] - peer[i]));
    ref = Math.max(ref, Math.abs(peer[i]));
  }
  return { abs, rel: abs / ref };
}

/** Reads `count` images from a gzipped IDX3 file, as pixel/255 in NCHW [count,1,rows,cols]. */
async function loadImages(url: URL, count: number): Promise<F32Tensor> {
  const gz = await Deno.readFile(url);
  const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  assert.equal(dv.getUint32(0), 0x00000803, "IDX3 magic (ubyte, 3 dims)");
  const [n, rows, cols] = [dv.getUint32(4), dv.getUint32(8), dv.getUint32(12)];
  assert.ok(count <= n, `file has ${n} images, need ${count}`);
  const px = raw.subarray(16, 16 + count * rows * cols);
  return { shape: [count, 1, rows, cols], data: Float32Array.from(px, (p) => p / 255) };
}

interface Row {
  model: string;
  abs: number;
  rel: number;
  relTorch: number;
  oursMs: number;
  ortMs: number;
}
const rows: Row[] = [];

/** Runs ours and ORT on one input; returns both logits and the timings (first run each). */
async function runBoth(bytes: Uint8Array, path: string, x: F32Tensor) {
  const g = prepareGraph(importOnnx(bytes, { path }), { batch: x.shape[0] });
  let t0 = performance.now();
  const ours = execute(g, { input: { dtype: "float32", shape: x.shape, data: x.data } }).logits;
  const oursMs = performance.now() - t0;
  assert.equal(ours.dtype, "float32");

  const peer = await OrtPeer.create(bytes, { threads: 1 });
  try {
    t0 = performance.now();
    const { logits } = await peer.run({ input: x });
    const ortMs = performance.now() - t0;
    assert.deepEqual(ours.shape, logits.shape, "logits shape");
    return { ours: ours.data as Float32Array, ort: logits.data, oursMs, ortMs };
  } finally {
    await peer.release();
  }
}

function check(model: string, r: Awaited<ReturnType<typeof runBoth>>, torch: number[]) {
  const vsOrt = compare(r.ours, r.ort);
  const vsTorch = compare(r.ours, torch);
  const row = { model, ...vsOrt, relTorch: vsTorch.rel, oursMs: r.oursMs, ortMs: r.ortMs };
  rows.push(row);
  console.log(fmtRow(row));
  assert.ok(vsOrt.rel <= TOL, `${model}: relative error vs ORT ${vsOrt.rel} > ${TOL}`);
  assert.ok(vsTorch.rel <= TOL, `${model}: relative error vs torch ${vsTorch.rel} > ${TOL}`);
}

const HEAD = "model              max|ours-ort|  rel vs ORT  rel vs torch   ours ms    ort ms";
function fmtRow(r: Row): string {
  return `${r.model.padEnd(18)} ${r.abs.toExponential(2).padStart(13)}  ${
    r.rel.toExponential(2).padStart(10)
  }  ${r.relTorch.toExponential(2).padStart(12)}  ${r.oursMs.toFixed(1).padStart(8)}  ${
    r.ortMs.toFixed(1).padStart(8)
  }`;
}

// --- fixtures: Fashion-MNIST models, batch of 8 real images ------------------------------

const FIXTURES = [
  ["resnet14_op13", "resnet14"],
  ["resnet14_op17", "resnet14"],
  ["resnet14_bn_op13", "resnet14"],
  ["vit_op13", "vit"],
  ["vit_op17", "vit"],
] as const;

let images: F32Tensor | undefined;

for (const [name, family] of FIXTURES) {
  Deno.test({
    name: `ort agreement: ${name} (8 Fashion-MNIST images)`,
    ...ORT_OPTS,
    async fn() {
      images ??= await loadImages(new URL("fmnist/t10k-images-idx3-ubyte.gz", FIX), 8);
      const ref = JSON.parse(await Deno.readTextFile(new URL(`${family}_ref_logits.json`, FIX)));
      const torch = (ref.logits as number[][]).flat();
      assert.equal(torch.length, 8 * 10, "reference logits are [8,10]");
      const bytes = await Deno.readFile(new URL(`${name}.onnx`, FIX));
      const r = await runBoth(bytes, `tests/fixtures/${name}.onnx`, images);
      check(name, r, torch);
      // Sanity: the argmax matches torch's recorded one.
      for (let b = 0; b < 8; b++) {
        const row = r.ours.subarray(b * 10, b * 10 + 10);
        assert.equal(row.indexOf(Math.max(...row)), ref.argmax[b], `${name} image ${b} argmax`);
      }
    },
  });
}

// --- zoo: 224x224 models from tools/export_zoo.py (optional) -----------------------------

const ZOO_MODELS = ["resnet18", "mobilenet_v2", "vit_tiny"];

function zooMissing(name: string): string | undefined {
  for (const f of [`${name}.onnx`, `${name}.input.bin`, `${name}.ref.json`]) {
    try {
      Deno.statSync(new URL(f, ZOO));
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "is missing" : `cannot be read (${e})`;
      return `.cache/zoo/${f} ${why}; produce it with ` +
        "`/usr/bin/python3 tools/export_zoo.py` (needs python3-torch python3-torchvision python3-onnx)";
    }
  }
}

for (const name of ZOO_MODELS) {
  const missing = zooMissing(name);
  if (missing) console.log(`ort agreement: skipping zoo model ${name}: ${missing}`);
  Deno.test({
    name: `ort agreement: zoo ${name} [1,3,224,224]`,
    ignore: missing !== undefined,
    ...ORT_OPTS,
    async fn() {
      const ref = JSON.parse(await Deno.readTextFile(new URL(`${name}.ref.json`, ZOO)));
      assert.deepEqual(ref.input_shape, [1, 3, 224, 224]);
      const raw = await Deno.readFile(new URL(`${name}.input.bin`, ZOO));
      assert.equal(raw.byteLength, 4 * 3 * 224 * 224, "input.bin size");
      const data = new Float32Array(raw.length / 4);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(4 * i, true);
      const bytes = await Deno.readFile(new URL(`${name}.onnx`, ZOO));
      const r = await runBoth(bytes, `.cache/zoo/${name}.onnx`, { shape: ref.input_shape, data });
      check(name, r, (ref.logits as number[][]).flat());
    },
  });
}

Deno.test("ort agreement: summary table", () => {
  console.log(
    `\nrelative error = max|ours - peer| / max|peer| over the logits tensor (tol ${TOL})`,
  );
  console.log("times: first run of each, ours = kernels/ref (plain TS), ORT = wasm EP 1 thread\n");
  console.log(HEAD);
  for (const r of rows) console.log(fmtRow(r));
});
