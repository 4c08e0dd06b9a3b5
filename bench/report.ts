/**
 * The benchmark report: ratios against onnxruntime-web and a plain-text table.
 * @module
 */
import type { ModelResult, RuntimeResult } from "./model_bench.ts";

/** A runtime row with its ratios against both onnxruntime-web variants. */
export interface ReportRow extends RuntimeResult {
  model: string;
  threads: number;
  /** Median latency / ORT f32 median (< 1: faster than ORT f32). */
  vs_ort_f32?: number;
  /** Median latency / ORT int8 (QDQ) median. */
  vs_ort_int8?: number;
  /** Back-to-back median / ORT f32's back-to-back median. */
  vs_ort_f32_b2b?: number;
}

/**
 * Flattens model results into rows with ratios (edgeq or ORT int8 median over the ORT
 * medians of the same model and thread count).
 *
 * @example
 * ```ts
 * const rows = withRatios(results);
 * rows.filter((r) => r.runtime === "edgeq-wasm").map((r) => r.vs_ort_int8);
 * ```
 */
export function withRatios(results: readonly ModelResult[]): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const m of results) {
    const find = (rt: string) => m.runtimes.find((r) => r.runtime === rt);
    const f32 = find("ort-f32")?.latency?.median, i8 = find("ort-int8")?.latency?.median;
    const f32b = find("ort-f32")?.latency_b2b?.median;
    const ratio = (v: number | undefined, of: number | undefined) =>
      v !== undefined && of ? v / of : undefined;
    for (const r of m.runtimes) {
      const v = r.latency?.median;
      rows.push({
        ...r,
        model: m.model,
        threads: m.threads,
        vs_ort_f32: ratio(v, f32),
        vs_ort_int8: ratio(v, i8),
        vs_ort_f32_b2b: ratio(r.latency_b2b?.median, f32b),
      });
    }
  }
  return rows;
}

const f = (v: number | undefined, d: number) => (v === undefined ? "—" : v.toFixed(d));

/**
 * Renders rows as a fixed-width table (one line per model × threads × runtime).
 *
 * @example
 * ```ts
 * console.log(formatTable(withRatios(results)));
 * ```
 */
export function formatTable(rows: readonly ReportRow[]): string {
  const head = [
    "model",
    "thr",
    "runtime",
    "median ms",
    "min–max ms",
    "runs",
    "load ms",
    "model KB",
    "RSS MB",
    "top-1 %",
    "÷ORT f32",
    "÷ORT int8",
    "b2b ms",
    "b2b ÷ORT f32",
  ];
  const body = rows.map((r) =>
    r.skipped ? [r.model, String(r.threads), r.runtime, `skipped: ${r.skipped}`] : [
      r.model,
      String(r.threads),
      r.runtime,
      f(r.latency?.median, 3),
      r.latency ? `${r.latency.min.toFixed(2)}–${r.latency.max.toFixed(2)}` : "—",
      String(r.latency?.runs ?? 0),
      f(r.load_ms, 1),
      (r.model_bytes / 1024).toFixed(0),
      f(r.rss_bytes === undefined ? undefined : r.rss_bytes / 2 ** 20, 0),
      r.top1 !== undefined
        ? `${(100 * r.top1).toFixed(2)} (${r.top1_n})`
        : r.top1_error
        ? "timeout"
        : "—",
      f(r.vs_ort_f32, 2),
      f(r.vs_ort_int8, 2),
      f(r.latency_b2b?.median, 3),
      f(r.vs_ort_f32_b2b, 2),
    ]
  );
  const w = head.map((h, i) =>
    Math.max(h.length, ...body.filter((b) => b.length > 4).map((b) => (b[i] ?? "").length))
  );
  const line = (c: string[]) =>
    c.length === 4 && c[3].startsWith("skipped")
      ? `${c.slice(0, 3).map((x, i) => x.padEnd(w[i])).join("  ")}  ${c[3]}`
      : c.map((x, i) => (i < 3 ? x.padEnd(w[i]) : x.padStart(w[i]))).join("  ");
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...body.map(line)].join("\n");
}
