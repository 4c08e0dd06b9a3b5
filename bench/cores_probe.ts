/**
 * Whether this host's cores can run two SIMD loops at once at full speed:
 * `deno run -A bench/cores_probe.ts [--ms 3000] [--rounds 3]`.
 *
 * Times the kernels' pure dot loop (peak_par: 64 reps of 8 relaxed dots over 4 KiB
 * panels per item, 128 items per call) in three ways, `--ms` each, `--rounds` times:
 * - **alone**: one thread;
 * - **2 procs**: the same loop in two processes at once (each process's median);
 * - **pool**: one process, a 2-thread pool (threads.ts) splitting each call, in the
 *   one-thread time of the same work (ideal 0.5).
 * On a host whose two vCPUs share one core's vector units (or whose host gives them
 * less than two cores), "2 procs" is slower than "alone" and "pool" near 1.0; the
 * 2-thread bench figures are then bounded by the host, not by the kernels.
 * @module
 */
import { instantiate } from "../kernels/wasm/instance.ts";
import { ThreadPool } from "../kernels/wasm/threads.ts";
import { Arena } from "../kernels/wasm/memory.ts";
import { options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const ms = Number(opt("--ms", "3000"));
const rounds = Number(opt("--rounds", "3"));
const mode = opt("--mode", "");

const ITEMS = 128, REPS = 64, N = 64;

/** Median ms per call of `ITEMS` items over `ms` of calls, on `threads` threads. */
async function loop(threads: number): Promise<number> {
  const inst = instantiate({ pages: 64 });
  const arena = new Arena(inst.memory);
  const pa = arena.alloc(4 * N * 16), pw = arena.alloc(4 * N * 16), out = arena.alloc(64);
  // nonzero operands (the dot's speed does not depend on them; the sum is printed below)
  new Uint8Array(inst.memory.buffer, pa, 4 * N * 16).fill(3);
  new Uint8Array(inst.memory.buffer, pw, 4 * N * 16).fill(5);
  const pool = threads > 1 ? await ThreadPool.start(inst, threads) : undefined;
  const k = inst.k as unknown as Record<string, (...a: number[]) => void>;
  const call = () =>
    pool
      ? pool.run("peak_par", [pa, pw, N, REPS, out], ITEMS, 1)
      : k.peak_par(pa, pw, N, REPS, out, 0, ITEMS, 0);
  for (let i = 0; i < 20; i++) call();
  const t: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    call();
    t.push(performance.now() - t0);
  }
  pool?.close();
  const sum = new Int32Array(inst.memory.buffer, out, 1)[0];
  if (sum === 0) throw new Error("the dot loop summed to 0: operands not set");
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

if (mode === "child") {
  console.log(JSON.stringify(await loop(1)));
  Deno.exit(0);
}

const child = () =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--mode", "child", "--ms", String(ms)],
    stderr: "inherit",
  }).output().then((r) => {
    if (r.code !== 0) throw new Error("probe child failed");
    return Number(new TextDecoder().decode(r.stdout).trim());
  });

console.log(`pure dot loop, ${ITEMS}×${REPS} reps per call, median ms per call over ${ms} ms`);
console.log("| round | alone | 2 procs (each) | pool, 2 threads | pool ÷ alone |");
console.log("|---:|---:|---:|---:|---:|");
for (let r = 1; r <= rounds; r++) {
  const alone = await loop(1);
  const [a, b] = await Promise.all([child(), child()]);
  const pool = await loop(2);
  console.log(
    `| ${r} | ${alone.toFixed(3)} | ${a.toFixed(3)} / ${b.toFixed(3)} | ${pool.toFixed(3)} | ${
      (pool / alone).toFixed(2)
    } |`,
  );
}
