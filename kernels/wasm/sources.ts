/**
 * What the wasm build is made of: the AssemblyScript sources, the three builds and
 * the compiler flags, and the hash that ties a committed build to them (the staleness
 * test recomputes it).
 * @module
 */

/** The AssemblyScript compiler the build uses (npm). */
export const ASC = "npm:assemblyscript@0.28.20/asc";

/** Shared-memory limits of the module (64 KiB pages): 1 GiB maximum. */
export const MAX_PAGES = 16384;

/**
 * The builds: name → `--enable` feature list and the relaxed dot's lowering
 * (`ASC_PAIR_DOT`, as/dot.ts): `relaxed` uses the fused
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s` (one sdot on ARM, one vpdpbusd on x86 with
 * AVX-VNNI); `relaxed-pair` spells it as `i16x8.relaxed_dot_i8x16_i7x16_s` +
 * `i32x4.dot_i16x8_s` with the i16 ones kept in a global, for x86 without AVX-VNNI, where
 * V8 lowers the fused op to pmaddubsw + pmaddwd and rebuilds the ones for every dot.
 */
export const BUILDS = {
  baseline: { enable: "simd,threads", pairDot: 0 },
  relaxed: { enable: "simd,relaxed-simd,threads", pairDot: 0 },
  "relaxed-pair": { enable: "simd,relaxed-simd,threads", pairDot: 1 },
} as const;

/** The flags of every build besides `--enable`. */
export const ASC_FLAGS: readonly string[] = [
  "-O3",
  "--runtime",
  "stub",
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  "1",
  "--maximumMemory",
  String(MAX_PAGES),
  "--use",
  "abort=",
  "--noAssert",
];

/** Directory of the AssemblyScript sources. */
export const SOURCE_DIR: URL = new URL("./as/", import.meta.url);

/**
 * SHA-256 (hex) over the sources (sorted by name), the builds and the flags.
 *
 * @example
 * ```ts
 * const h = await sourceHash(); // "3f5a…"
 * ```
 */
export async function sourceHash(): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(SOURCE_DIR)) {
    if (e.isFile && e.name.endsWith(".ts")) names.push(e.name);
  }
  names.sort();
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [enc.encode(JSON.stringify({ ASC, BUILDS, ASC_FLAGS }))];
  for (const n of names) {
    parts.push(enc.encode(`\n--- ${n}\n`), await Deno.readFile(new URL(n, SOURCE_DIR)));
  }
  const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}
