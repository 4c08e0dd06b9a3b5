/**
 * Backend agreement on the Fashion-MNIST slice: quantizes each fixture (variance method,
 * tests/fixtures/fmnist_calib, `--calib-limit`, default 512), runs the first `--n` images
 * (default 1000) of tests/fixtures/fmnist on ref, wasm and webgpu, and prints per model and
 * backend: images whose logits are identical to ref's, images with the same top-1, and the
 * top-1 accuracy. `--json` prints the rows as JSON.
 *
 *     deno run -A tools/bitexact.ts [--n 1000] [--calib-limit 512] [--models vit_op17,vit_op13,resnet14_op13] [--json]
 *
 * @module
 */
import { load } from "../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { quantize } from "../quantizer/quantize.ts";
import { gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import type { Tensor } from "../runtime/tensor.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const arg = (k: string, d: string) => {
  const i = Deno.args.indexOf(k);
  return i >= 0 ? Deno.args[i + 1] : d;
};
const N = Number(arg("--n", "1000"));
const LIMIT = Number(arg("--calib-limit", "512"));
const MODELS = arg("--models", "resnet14_op13,vit_op17,vit_op13").split(",");
const BATCH = 50;

const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, N);
const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: LIMIT });
const gpuWhy = await gpuUnavailable();
const rows: Record<string, unknown>[] = [];

async function logits(bytes: Uint8Array, backend: "ref" | "wasm" | "webgpu"): Promise<Tensor[]> {
  const m = await load(bytes, backend === "ref" ? {} : { backend });
  const out: Tensor[] = [];
  try {
    for (let o = 0; o < N; o += BATCH) {
      const x = imageBatch(set, o, Math.min(BATCH, N - o));
      out.push((await m.run({ [m.inputNames[0]]: x }))[m.outputNames[0]]);
    }
  } finally {
    await m.dispose();
  }
  return out;
}

const argmax = (d: ArrayLike<number>, o: number, k: number) => {
  let m = 0;
  for (let c = 1; c < k; c++) if (d[o + c] > d[o + m]) m = c;
  return m;
};

for (const name of MODELS) {
  const t0 = performance.now();
  const { bytes } = quantize(await Deno.readFile(`${ROOT}tests/fixtures/${name}.onnx`), calib);
  const ref = await logits(bytes, "ref");
  const backends = gpuWhy ? ["wasm"] as const : ["wasm", "webgpu"] as const;
  for (const b of backends) {
    const t1 = performance.now();
    const got = await logits(bytes, b);
    let identical = 0, sameTop1 = 0, correct = 0, refCorrect = 0, img = 0;
    for (let bi = 0; bi < ref.length; bi++) {
      const a = ref[bi], g = got[bi], n = a.shape[0], k = a.data.length / n;
      for (let i = 0; i < n; i++, img++) {
        let same = true;
        for (let c = 0; c < k; c++) if (a.data[i * k + c] !== g.data[i * k + c]) same = false;
        const ta = argmax(a.data, i * k, k), tg = argmax(g.data, i * k, k);
        if (same) identical++;
        if (ta === tg) sameTop1++;
        if (tg === set.labels[img]) correct++;
        if (ta === set.labels[img]) refCorrect++;
      }
    }
    rows.push({
      model: name,
      backend: b,
      identical,
      sameTop1,
      n: N,
      top1: correct / N,
      refTop1: refCorrect / N,
      seconds: Math.round((performance.now() - t1) / 100) / 10,
    });
    if (!Deno.args.includes("--json")) {
      console.log(
        `${name.padEnd(14)} ${
          b.padEnd(7)
        } identical ${identical}/${N}  same top-1 ${sameTop1}/${N}  ` +
          `top-1 ${(correct / N).toFixed(4)} (ref ${(refCorrect / N).toFixed(4)})  ` +
          `${((performance.now() - t1) / 1000).toFixed(1)} s`,
      );
    }
  }
  if (gpuWhy && !Deno.args.includes("--json")) console.log(`webgpu skipped: ${gpuWhy}`);
  if (!Deno.args.includes("--json")) {
    console.log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s in all`);
  }
}
if (Deno.args.includes("--json")) console.log(JSON.stringify(rows, null, 2));
