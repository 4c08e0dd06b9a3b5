/**
 * What the wasm build is made of: the AssemblyScript sources, the two feature sets and
 * the compiler flags, and the hash that ties a committed build to them (the staleness
 * test recomputes it).
 * @module
 */

/** The AssemblyScript compiler the build uses (npm). */
export const ASC = "npm:assemblyscript@0.28.20/asc";

/** Shared-memory limits of the module (64 KiB pages): 1 GiB maximum. */
export const MAX_PAGES = 16384;

/** The two builds: name → `--enable` feature list. */
export const BUILDS = {
  baseline: "simd,threads",
  relaxed: "simd,relaxed-simd,threads",
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
