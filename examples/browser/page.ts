/**
 * The demo page's script (bundled to `dist/page.js` by `deno task bundle`): fetches a
 * packed model and the Fashion-MNIST test slice, runs `n` images one at a time on each
 * backend (ref; wasm with `threads` workers when the page is cross-origin isolated, else
 * the backend falls back to 1 thread and warns; webgpu when `navigator.gpu` exists), and
 * shows top-1 and ms/image. Everything it measured is left on `window.edgeqResults`
 * (see {@link PageResults}) for tests/browser_test.ts.
 *
 * URL parameters: `model` (default `r14.eqp`), `n` (default 16), `backends` (default
 * `ref,wasm,webgpu`), `threads` (default `navigator.hardwareConcurrency`).
 *
 * @example
 * ```ts
 * // in a browser console, after the page finished:
 * const r = (globalThis as unknown as { edgeqResults: PageResults }).edgeqResults;
 * console.log(r.backends.wasm?.top1, r.backends.wasm?.msPerImage);
 * ```
 * @module
 */
import { type BackendName, imageBatch, load, parseIdx } from "./edgeq_browser.ts";

/** One backend's results on the page. */
export interface BackendResult {
  /** "ok", "skipped" (with `reason`) or "error" (with `reason`). */
  status: "ok" | "skipped" | "error";
  reason?: string;
  /** Top-1 accuracy over the images. */
  top1?: number;
  /** Predicted class per image. */
  predictions?: number[];
  /** Median-free plain mean of the timed runs (after one warm-up run). */
  msPerImage?: number;
  /** load() + the first (compiling) run, in ms. */
  firstMs?: number;
  /** The logits of every image, row after row, as the uint32 bits of their float32 values. */
  bits?: number[];
  /** Requested wasm threads. */
  threads?: number;
}

/** What the page leaves on `window.edgeqResults`. */
export interface PageResults {
  /** True once every backend has finished (or failed). */
  done: boolean;
  /** A fatal error (model or data could not be fetched). */
  error?: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  hasWebGpu: boolean;
  /** Images run and their labels. */
  n: number;
  labels: number[];
  /** Every console.warn line seen while running (e.g. the wasm 1-thread fallback). */
  warnings: string[];
  backends: Partial<Record<BackendName, BackendResult>>;
}

interface El {
  textContent: string | null;
  className: string;
  appendChild(e: El): El;
}
interface Doc {
  getElementById(id: string): El | null;
  createElement(tag: string): El;
}
const g = globalThis as unknown as {
  document: Doc;
  location: { search: string };
  crossOriginIsolated?: boolean;
  edgeqResults: PageResults;
};
const doc = g.document;
const params = new URLSearchParams(g.location.search);
const modelUrl = params.get("model") ?? "r14.eqp";
const count = Math.max(1, Number(params.get("n") ?? 16) | 0);
const wanted = (params.get("backends") ?? "ref,wasm,webgpu").split(",").filter(Boolean);
const threads = Math.max(
  1,
  Number(params.get("threads") ?? navigator.hardwareConcurrency ?? 1) | 0,
);

const results: PageResults = {
  done: false,
  crossOriginIsolated: g.crossOriginIsolated === true,
  hardwareConcurrency: navigator.hardwareConcurrency ?? 1,
  hasWebGpu: "gpu" in navigator && !!navigator.gpu,
  n: 0,
  labels: [],
  warnings: [],
  backends: {},
};
g.edgeqResults = results;

function note(text: string, cls = ""): void {
  const li = doc.createElement("li");
  li.textContent = text;
  li.className = cls;
  doc.getElementById("notes")?.appendChild(li);
}

const warn = console.warn.bind(console);
console.warn = (...a: unknown[]) => {
  const line = a.map(String).join(" ");
  results.warnings.push(line);
  note(`warning: ${line}`, "warn");
  warn(...a);
};

function row(name: string, r: BackendResult): void {
  const tr = doc.createElement("tr");
  const cells = [
    name,
    r.status === "ok" ? (name === "wasm" ? `ok (${r.threads} thread(s) asked)` : "ok") : r.status,
    r.top1 === undefined ? "" : `${(100 * r.top1).toFixed(1)}%`,
    r.msPerImage === undefined ? "" : r.msPerImage.toFixed(2),
    r.firstMs === undefined ? "" : r.firstMs.toFixed(0),
  ];
  for (const c of cells) {
    const td = doc.createElement("td");
    td.textContent = c;
    tr.appendChild(td);
  }
  doc.getElementById("rows")?.appendChild(tr);
  if (r.reason) note(`${name}: ${r.reason}`, r.status === "error" ? "err" : "warn");
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function runBackend(
  name: BackendName,
  bytes: Uint8Array,
  xs: { dtype: "float32"; shape: number[]; data: Float32Array }[],
  labels: number[],
): Promise<BackendResult> {
  if (name === "webgpu" && !results.hasWebGpu) {
    return { status: "skipped", reason: "navigator.gpu is missing in this browser" };
  }
  const t0 = performance.now();
  const model = await load(bytes, name === "wasm" ? { backend: name, threads } : { backend: name });
  try {
    const input = model.inputNames[0], output = model.outputNames[0];
    await model.run({ [input]: xs[0] }); // compile + warm-up
    const firstMs = performance.now() - t0;
    const bits: number[] = [];
    const predictions: number[] = [];
    let ms = 0;
    for (const x of xs) {
      const t = performance.now();
      const y = (await model.run({ [input]: x }))[output];
      ms += performance.now() - t;
      const f = y.data as Float32Array;
      bits.push(...new Uint32Array(f.buffer, f.byteOffset, f.length));
      let best = 0;
      for (let c = 1; c < f.length; c++) if (f[c] > f[best]) best = c;
      predictions.push(best);
    }
    const top1 = predictions.filter((p, i) => p === labels[i]).length / xs.length;
    return {
      status: "ok",
      top1,
      predictions,
      msPerImage: ms / xs.length,
      firstMs,
      bits,
      threads: name === "wasm" ? threads : undefined,
    };
  } finally {
    await model.dispose();
  }
}

async function main(): Promise<void> {
  const env = doc.getElementById("env");
  if (env) {
    env.textContent =
      `crossOriginIsolated: ${results.crossOriginIsolated}, cores: ${results.hardwareConcurrency}, WebGPU: ${
        results.hasWebGpu ? "yes" : "no"
      }, wasm threads asked: ${threads}`;
  }
  const m = doc.getElementById("model");
  if (m) m.textContent = modelUrl;
  const [bytes, img, lab] = await Promise.all([
    fetchBytes(modelUrl),
    fetchBytes("data/t10k-images-idx3-ubyte.gz"),
    fetchBytes("data/t10k-labels-idx1-ubyte.gz"),
  ]);
  const images = parseIdx(img, "t10k-images"), lbl = parseIdx(lab, "t10k-labels");
  const [total, rows, cols] = images.dims;
  const n = Math.min(count, total);
  const set = { n, rows, cols, pixels: images.data, labels: lbl.data };
  const xs = Array.from(
    { length: n },
    (_, i) => imageBatch(set, i, 1) as { dtype: "float32"; shape: number[]; data: Float32Array },
  );
  results.n = n;
  results.labels = Array.from(lbl.data.subarray(0, n));
  for (const name of wanted as BackendName[]) {
    let r: BackendResult;
    try {
      r = await runBackend(name, bytes, xs, results.labels);
    } catch (e) {
      r = { status: "error", reason: `${(e as Error).name}: ${(e as Error).message}` };
    }
    results.backends[name] = r;
    row(name, r);
  }
}

main().catch((e) => {
  results.error = `${(e as Error).name}: ${(e as Error).message}`;
  note(results.error, "err");
}).finally(() => {
  results.done = true;
});
