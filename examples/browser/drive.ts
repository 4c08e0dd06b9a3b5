/**
 * Runs the demo page in Debian's headless Chromium and prints what it measured as one
 * JSON line ({@link DriveResult}): serves a bundle folder (tools/serve.ts, with or
 * without COOP/COEP) on a free 127.0.0.1 port, opens `index.html?QUERY` with
 * playwright-core, waits for `window.edgeqResults.done`, and records the dedicated
 * workers the page started and its console lines.
 *
 * Needs `-A`: playwright-core reads /proc and the home folder when it loads.
 *
 * ```
 * deno task bundle && deno task edgeq quantize tests/fixtures/resnet14_op13.onnx \
 *   --calib tests/fixtures/fmnist_calib --out dist/r14.eqp
 * deno run -A examples/browser/drive.ts --root dist --query "n=16&threads=2"
 * deno run -A examples/browser/drive.ts --root dist --no-isolation --query "backends=wasm"
 * ```
 * @module
 */
import { chromium } from "playwright-core";
import { serveDir } from "../../tools/serve.ts";
import type { PageResults } from "./page.ts";

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags for headless Chromium here (notes/PROBES.md); WebGPU needs the last one. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--enable-unsafe-webgpu",
];

/** Options of {@link drive}. */
export interface DriveOptions {
  /** The bundle folder (with r14.eqp or the model named in the query). */
  root: string;
  /** Send COOP/COEP (default true). */
  isolation?: boolean;
  /** URL query of the page, e.g. `n=16&threads=2&backends=wasm`. */
  query?: string;
  /** The page to open (default `index.html`; `bench.html`: bench/browser_bench.ts). */
  page?: string;
  /** Give up after this many seconds (default 240). */
  timeoutS?: number;
}

/** What {@link drive} saw. */
export interface DriveResult {
  /** The page's `window.edgeqResults`. */
  page: PageResults;
  /** URLs of the dedicated workers the page started. */
  workers: string[];
  /** Console lines as `type: text`, and uncaught page errors as `pageerror: ...`. */
  console: string[];
  /** The page's user agent (Chromium's version). */
  userAgent: string;
  /** Wall time from navigation to `done`, in ms. */
  pageMs: number;
}

/**
 * Serves `root`, runs the page in headless Chromium and returns its results. The browser,
 * its fresh profile folder (under the temp dir) and the server are closed in every case.
 *
 * @example
 * ```ts
 * const r = await drive({ root: "dist", query: "n=16&threads=2" });
 * console.log(r.page.backends.wasm?.msPerImage, r.workers.length);
 * ```
 */
export async function drive(opts: DriveOptions): Promise<DriveResult> {
  const timeout = (opts.timeoutS ?? 240) * 1000;
  const server = serveDir({ root: opts.root, port: 0, isolation: opts.isolation ?? true });
  const profile = await Deno.makeTempDir({ prefix: "edgeq-chromium-" });
  let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS],
      timeout: 60_000,
    });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const workers: string[] = [];
    const lines: string[] = [];
    page.on("worker", (w) => workers.push(w.url()));
    page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => lines.push(`pageerror: ${e.message}`));
    const url = `http://127.0.0.1:${server.addr.port}/${opts.page ?? "index.html"}?${
      opts.query ?? ""
    }`;
    const t0 = performance.now();
    await page.goto(url, { timeout: 60_000 });
    await page.waitForFunction(
      () => (globalThis as unknown as { edgeqResults?: PageResults }).edgeqResults?.done === true,
      null,
      { timeout, polling: 200 },
    );
    const pageMs = performance.now() - t0;
    const results = await page.evaluate(() =>
      (globalThis as unknown as { edgeqResults: PageResults }).edgeqResults
    );
    return {
      page: results,
      workers,
      console: lines,
      userAgent: await page.evaluate(() => navigator.userAgent),
      pageMs,
    };
  } finally {
    await ctx?.close().catch(() => {});
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const r = await drive({
    root: opt("--root") ?? "dist",
    isolation: !args.includes("--no-isolation"),
    query: opt("--query"),
    page: opt("--page"),
    timeoutS: opt("--timeout") ? Number(opt("--timeout")) : undefined,
  });
  console.log(JSON.stringify(r));
}
