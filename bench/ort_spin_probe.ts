/**
 * How long onnxruntime-web's threads keep the process busy after a run returns:
 * `deno run -A bench/ort_spin_probe.ts MODEL.onnx [--threads 2] [--shape 1,3,224,224]
 * [--rounds 10]`. After each run it sleeps and reads the process's CPU time (every
 * thread) at 5, 10, 25, 50, 100, 200 and 400 ms, and prints the mean CPU ms used by then.
 * An idle process uses about none; the bench's timed runs wait for the process to be idle
 * (bench/measure.ts settle), because a fixed pause left these threads running into the
 * next runtime's run.
 * @module
 */
import process from "node:process";
import { OrtPeer } from "../tests/peer/ort.ts";
import { options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const threads = Number(opt("--threads", "2"));
const shape = opt("--shape", "1,3,224,224").split(",").map(Number);
const rounds = Number(opt("--rounds", "10"));
const path = args[0];
if (!path) throw new Error("usage: ort_spin_probe.ts MODEL.onnx [--threads 2] [--shape ...]");

const peer = await OrtPeer.create(await Deno.readFile(path), { threads });
const size = shape.reduce((a, b) => a * b, 1);
const x = new Float32Array(size).map((_, i) => ((i * 37) % 255) / 255 - 0.5);
const run = () => peer.run({ [peer.inputNames[0]]: { shape, data: x } });
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
for (let i = 0; i < 3; i++) await run();
await sleep(500);
const marks = [5, 10, 25, 50, 100, 200, 400];
const used = marks.map(() => 0);
for (let r = 0; r < rounds; r++) {
  await run();
  const c0 = cpuMs(), t0 = performance.now();
  for (let i = 0; i < marks.length; i++) {
    await sleep(marks[i] - (performance.now() - t0));
    used[i] += cpuMs() - c0;
  }
}
console.log(
  `${path.split("/").pop()}, ${threads} thread(s): process CPU ms used after a run ` +
    `returned, by wall ms since (mean of ${rounds})`,
);
console.log(marks.map((m, i) => `${m} ms: ${(used[i] / rounds).toFixed(1)}`).join(" | "));
Deno.exit(0); // ORT's worker threads keep the process alive otherwise
