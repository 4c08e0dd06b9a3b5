/**
 * onnxruntime-web's wasm files for the browser bench page (bench.html imports
 * `./ort/ort.wasm.min.mjs`). No playwright here: tests import it.
 * @module
 */
/** onnxruntime-web's wasm-only build, as bench.html imports it from `ort/` beside the page. */
export const ORT_FILES: readonly string[] = [
  "ort.wasm.min.mjs",
  "ort-wasm-simd-threaded.mjs",
  "ort-wasm-simd-threaded.wasm",
];

/**
 * Copies {@link ORT_FILES} from `node_modules/onnxruntime-web/dist` (under `repo`) into
 * `root/ort/` for bench.html; returns onnxruntime-web's version.
 *
 * @example
 * ```ts
 * const v = await addOrt("dist", "."); // "1.30.0"
 * ```
 */
export async function addOrt(root: string, repo: string): Promise<string> {
  const dist = `${repo}/node_modules/onnxruntime-web`;
  await Deno.mkdir(`${root}/ort`, { recursive: true });
  for (const f of ORT_FILES) await Deno.copyFile(`${dist}/dist/${f}`, `${root}/ort/${f}`);
  return JSON.parse(await Deno.readTextFile(`${dist}/package.json`)).version as string;
}
