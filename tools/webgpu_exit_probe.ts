/**
 * Does `deno test` die at exit once a module has asked for a WebGPU adapter? Writes a
 * two-module test (each module requests an adapter, one empty test each) to a temp folder
 * and runs `deno test` on it N times per wgpu backend, counting exit codes: 0 is a clean
 * exit, 134 (SIGABRT from glibc's heap checks: "double free or corruption", "corrupted size
 * vs. prev_size") and 139 (SIGSEGV) are the crash at exit.
 *
 * Why it exists: with Deno 2.9.6 and Mesa 22.3.6 (llvmpipe) the GL backend crashed 31 of
 * 350 runs here (batches of 11/100, 16/100, 1/50, 3/100) and the Vulkan backend (lavapipe)
 * none of 250, so `deno task test` sets DENO_WEBGPU_BACKEND=vulkan. Re-run this after a Deno or Mesa update to see whether the
 * setting is still needed.
 *
 * Usage: deno run -A tools/webgpu_exit_probe.ts [--runs 100] [--backends gl,vulkan,default]
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "100" },
    backends: { type: "string", default: "gl,vulkan,default" },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: want a positive integer`);

const dir = await Deno.makeTempDir({ prefix: "edgeq-gpu-exit-" });
const body = `const a = await navigator.gpu.requestAdapter();
Deno.test("adapter " + (a ? "found" : "missing"), () => {});
`;
await Deno.writeTextFile(`${dir}/a_test.ts`, body);
await Deno.writeTextFile(`${dir}/b_test.ts`, body);
const xdg = `${dir}/xdg`; // Mesa's Vulkan WSI complains on every request without one
await Deno.mkdir(xdg, { mode: 0o700 });

console.log(`deno ${Deno.version.deno}; ${runs} runs of deno test (2 modules) per backend`);
try {
  for (const backend of values.backends.split(",")) {
    const env: Record<string, string> = { NO_COLOR: "1", XDG_RUNTIME_DIR: xdg };
    if (backend !== "default") env.DENO_WEBGPU_BACKEND = backend;
    const codes = new Map<number, number>();
    let adapter = "";
    let crashLine = "";
    for (let i = 0; i < runs; i++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", "--allow-all", dir],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      codes.set(out.code, (codes.get(out.code) ?? 0) + 1);
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      adapter ||= /adapter (found|missing)/.exec(text)?.[1] ?? "";
      if (out.code !== 0 && !crashLine) {
        crashLine = text.split("\n").find((l) => /corrupt|double free|free\(\)|fault/i.test(l)) ??
          "";
      }
    }
    const tally = [...codes].sort((a, b) => a[0] - b[0]).map(([c, n]) => `exit ${c}: ${n}`);
    console.log(
      `${backend.padEnd(8)} adapter ${adapter || "?"}; ${tally.join(", ")}` +
        (crashLine ? `  (e.g. "${crashLine.trim()}")` : ""),
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
