/**
 * On-device benchmark in one command: copy the repository to the board (a Raspberry
 * Pi, a Jetson, a laptop), then
 *
 * ```sh
 * npx -y deno@2 run --allow-read --allow-write --allow-env --allow-run --allow-sys \
 *   examples/bench_device.ts [model...] [bench options]
 * ```
 *
 * It prints this device's profile (wasm SIMD / relaxed SIMD / threads, cores, memory,
 * WebGPU adapter and WGSL features), the backend `backend: "auto"` would pick (measured
 * probe, not cached), then runs the benchmark — edgeq vs onnxruntime-web f32 and int8 —
 * at 1 thread and at the core count, and prints the table. Extra arguments go to
 * bench/run.ts (e.g. `resnet14_op13 --runs 30 --svg bench.svg`). Default models: the
 * bundled fixtures, plus the zoo when `.cache/zoo` holds it (see bench/models.ts).
 * @module
 */
import { devicesCommand } from "../devices/report.ts";
import { main as bench } from "../bench/run.ts";

const args = [...Deno.args];
if (!args.some((a) => a.startsWith("--threads"))) {
  const n = navigator.hardwareConcurrency;
  args.push(`--threads=${n > 1 ? `1,${n}` : "1"}`);
}
if (!args.some((a) => !a.startsWith("-"))) {
  let zoo = false;
  try {
    zoo = Deno.statSync(".cache/zoo/resnet18.onnx").isFile;
  } catch { /* no zoo: fixtures only */ }
  if (!zoo) args.unshift("resnet14_op13", "vit_op17");
}
console.log(await devicesCommand({ probe: true }));
console.log("");
Deno.exit(await bench(args));
