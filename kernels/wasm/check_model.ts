/**
 * End-to-end int8 check (used by tools/arm64_deno.sh): runs a packed model on N fixture
 * images with the reference backend and the wasm backend (both builds), fails unless all
 * outputs are bit-identical, and prints one JSON line with a SHA-256 digest of the
 * outputs, so that runs on different hosts (x86, arm64) can be compared.
 *
 * @example
 * ```sh
 * deno run --allow-read kernels/wasm/check_model.ts /tmp/r14.eqp 32
 * ```
 * @module
 */
import { load } from "../../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../../runtime/data.ts";

/**
 * Runs the check; returns the digest and whether ref and wasm agreed.
 *
 * @example
 * ```ts
 * const r = await checkModel("/tmp/r14.eqp", 32); // { digest: "…", identical: true, … }
 * ```
 */
export async function checkModel(
  path: string,
  n: number,
): Promise<{ digest: string; identical: boolean; arch: string; builds: string[] }> {
  const root = new URL("../../", import.meta.url).pathname;
  const x = imageBatch(await loadIdxDir(`${root}tests/fixtures/fmnist`, n), 0, n);
  const ref = await load(path);
  const want = await ref.run({ input: x });
  let identical = true;
  const builds = ["baseline", "relaxed", "relaxed-pair"];
  for (const build of builds) {
    for (const threads of [1, 2]) {
      const m = await load(path, { backend: "wasm", threads, backendOptions: { build } });
      const got = await m.run({ input: x });
      await m.dispose();
      for (const k of Object.keys(want)) {
        const a = want[k].data, b = got[k].data;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) identical = false;
      }
    }
  }
  const parts = Object.keys(want).sort().map((k) => {
    const d = want[k].data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  });
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const digest = [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { digest, identical, arch: Deno.build.arch, builds };
}

if (import.meta.main) {
  const r = await checkModel(Deno.args[0], Number(Deno.args[1] ?? 32));
  console.log(JSON.stringify(r));
  if (!r.identical) Deno.exit(1);
}
