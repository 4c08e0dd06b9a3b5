/**
 * `deno task bundle [--out DIR] [--no-minify]`: the browser build. esbuild bundles
 * examples/browser/edgeq_browser.ts (the library entry), examples/browser/page.ts (the
 * demo page) and kernels/wasm/worker.ts (the wasm backend's thread worker) into DIR
 * (default `dist/`) as ESM with shared chunks, copies index.html and the Fashion-MNIST
 * fixture slice next to them, and prints every file's raw and gzip size.
 *
 * The wasm backend creates its workers with `new URL("./worker.ts", import.meta.url)`;
 * esbuild leaves such URLs alone, so the bundle rewrites that one expression to the
 * bundled `./edgeq_worker.js` (a sibling of every chunk) and fails loudly when the
 * expression is no longer there.
 *
 * Add the model with
 * `deno task edgeq quantize tests/fixtures/resnet14_op13.onnx --calib tests/fixtures/fmnist_calib --out dist/r14.eqp`.
 * @module
 */
import * as esbuild from "esbuild";
import { gzipSync } from "fflate";
import { relative, resolve } from "node:path";

/** Options of {@link bundle}. */
export interface BundleOptions {
  /** Output folder (created; files there are overwritten). Default: `<repo>/dist`. */
  outDir?: string;
  /** Minify (default true). */
  minify?: boolean;
}

/** One output file and its sizes. */
export interface BundleFile {
  /** Path relative to the output folder. */
  name: string;
  /** Bytes on disk. */
  bytes: number;
  /** Bytes after gzip level 9 (what a server sending gzip would transfer). */
  gzip: number;
}

/** What {@link bundle} wrote. */
export interface BundleResult {
  /** The output folder (absolute). */
  outDir: string;
  /** Every file written, JS first. */
  files: BundleFile[];
}

const ROOT = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(ROOT.pathname).replace(/\/$/, "");

/** The worker URL expression of kernels/wasm/threads.ts and its bundled replacement. */
const WORKER_URL_RE = /new URL\(\s*["']\.\/worker\.ts["']\s*,\s*import\.meta\.url\s*\)/g;
const WORKER_OUT = "edgeq_worker";

const workerUrlPlugin: esbuild.Plugin = {
  name: "edgeq-worker-url",
  setup(build) {
    build.onLoad({ filter: /kernels[\\/]wasm[\\/]threads\.ts$/ }, async (args) => {
      const src = await Deno.readTextFile(args.path);
      const hits = src.match(WORKER_URL_RE)?.length ?? 0;
      if (hits !== 1) {
        return {
          errors: [{
            text: `expected one 'new URL("./worker.ts", import.meta.url)' in ${args.path}, ` +
              `found ${hits}: update tools/bundle.ts with the worker creation code`,
          }],
        };
      }
      return {
        contents: src.replace(WORKER_URL_RE, `new URL("./${WORKER_OUT}.js", import.meta.url)`),
        loader: "ts",
      };
    });
  },
};

/**
 * Builds the browser bundle and the demo page into `outDir`.
 *
 * @example
 * ```ts
 * const { files } = await bundle({ outDir: "/tmp/edgeq-dist" });
 * console.log(files.map((f) => `${f.name} ${f.bytes} ${f.gzip}`).join("\n"));
 * ```
 */
export async function bundle(opts: BundleOptions = {}): Promise<BundleResult> {
  const outDir = resolve(opts.outDir ?? `${rootPath}/dist`);
  await Deno.mkdir(`${outDir}/data`, { recursive: true });
  for await (const e of Deno.readDir(outDir)) {
    if (e.isFile && /^chunk-[A-Z0-9]+\.js$/.test(e.name)) await Deno.remove(`${outDir}/${e.name}`);
  }
  try {
    const r = await esbuild.build({
      absWorkingDir: rootPath,
      entryPoints: [
        { in: "examples/browser/edgeq_browser.ts", out: "edgeq_browser" },
        { in: "examples/browser/page.ts", out: "page" },
        { in: "examples/browser/bench_page.ts", out: "bench_page" },
        { in: "kernels/wasm/worker.ts", out: WORKER_OUT },
      ],
      outdir: outDir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: opts.minify ?? true,
      sourcemap: false,
      legalComments: "none",
      chunkNames: "chunk-[hash]",
      logLevel: "silent",
      metafile: true,
      plugins: [workerUrlPlugin],
    });
    for (const w of r.warnings) console.warn(`esbuild: ${w.text}`);
    const js = Object.keys(r.metafile!.outputs).map((p) => relative(outDir, resolve(rootPath, p)));
    for (const f of ["index.html", "bench.html"]) {
      await Deno.copyFile(`${rootPath}/examples/browser/${f}`, `${outDir}/${f}`);
    }
    for (const f of ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]) {
      await Deno.copyFile(`${rootPath}/tests/fixtures/fmnist/${f}`, `${outDir}/data/${f}`);
    }
    const names = [
      ...js.sort(),
      "index.html",
      "bench.html",
      "data/t10k-images-idx3-ubyte.gz",
      "data/t10k-labels-idx1-ubyte.gz",
    ];
    const files: BundleFile[] = [];
    for (const name of names) {
      const b = await Deno.readFile(`${outDir}/${name}`);
      files.push({ name, bytes: b.length, gzip: gzipSync(b, { level: 9 }).length });
    }
    return { outDir, files };
  } finally {
    await esbuild.stop();
  }
}

/** Renders the file table of a {@link BundleResult}. */
function table(r: BundleResult): string {
  const kb = (n: number) => (n / 1024).toFixed(1).padStart(8);
  const w = Math.max(...r.files.map((f) => f.name.length), 4);
  const lines = [`${"file".padEnd(w)}   raw KiB  gzip KiB`];
  for (const f of r.files) lines.push(`${f.name.padEnd(w)}  ${kb(f.bytes)}  ${kb(f.gzip)}`);
  const js = r.files.filter((f) => f.name.endsWith(".js"));
  const sum = (k: "bytes" | "gzip") => js.reduce((a, f) => a + f[k], 0);
  lines.push(`${"all .js".padEnd(w)}  ${kb(sum("bytes"))}  ${kb(sum("gzip"))}`);
  return lines.join("\n");
}

if (import.meta.main) {
  const args = [...Deno.args];
  const at = args.indexOf("--out");
  const outDir = at >= 0 ? args[at + 1] : undefined;
  const r = await bundle({ outDir, minify: !args.includes("--no-minify") });
  console.log(`bundled into ${r.outDir}\n${table(r)}`);
  try {
    await Deno.stat(`${r.outDir}/r14.eqp`);
  } catch {
    console.log(
      `no model yet: deno task edgeq quantize tests/fixtures/resnet14_op13.onnx ` +
        `--calib tests/fixtures/fmnist_calib --out ${r.outDir}/r14.eqp`,
    );
  }
}
