/**
 * Runs the ONNX backend test cases shipped by Debian's `libonnx-testdata`
 * (`/usr/share/libonnx-testdata/data/<suite>/<case>/model.onnx` plus
 * `test_data_set_N/{input,output}_K.pb`) through import → prepare → execute and
 * compares every output against the expected tensors.
 *
 * A case whose model the runtime declares unsupported (E_UNSUPPORTED_OP / _ATTR /
 * _DTYPE, an opset outside the accepted range, or an entry of {@link EXCLUDED}) is
 * "skipped"; any other exception, or a mismatch, is a failure.
 *
 * Used by `tests/conformance_test.ts`; also runnable as a script:
 *
 * ```
 * deno run --allow-read tests/onnx_backend_cases.ts [suite...] [--filter=re] [--verbose]
 * ```
 */
import onnx from "onnx-proto";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { decodeTensorProto } from "../quantizer/onnx_tensor.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { execute } from "../runtime/executor.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import type { Graph, Node } from "../runtime/graph.ts";
import { fmtShape, type Tensor } from "../runtime/tensor.ts";

/** Where Debian installs the backend test data. */
export const TESTDATA_ROOT = "/usr/share/libonnx-testdata/data";

/** The suites this runner knows (`real/` holds only download stubs, no models). */
export const SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"] as const;

/** One suite name. */
export type Suite = typeof SUITES[number];

/** Relative tolerance of float comparisons. */
export const RTOL = 1e-3;
/** Absolute tolerance of float comparisons. */
export const ATOL = 1e-5;

/**
 * Cases skipped by name, with the reason (the one place for hand-written exclusions).
 * Empty today: every skip comes from the runtime itself reporting the model
 * unsupported (E_UNSUPPORTED_OP/_ATTR/_DTYPE or {@link UNSUPPORTED_PATTERNS}); random
 * ops (Bernoulli, RandomUniformLike...) and training ops are not in the op set.
 */
export const EXCLUDED: Readonly<Record<string, string>> = {};

/**
 * Reasons graph-level exceptions that are not EdgeqError "unsupported" codes are
 * nevertheless unsupported features (one place, one reason per entry).
 */
const UNSUPPORTED_PATTERNS: readonly { code: string; re: RegExp; reason: string }[] = [
  {
    code: "E_BAD_MODEL",
    re: /default-domain opset/,
    reason: "default-domain opset outside the supported range",
  },
  {
    code: "E_BAD_MODEL",
    re: /is not a tensor/,
    reason: "sequence/optional/map graph inputs or outputs",
  },
];

/** Result of one case. */
export interface CaseResult {
  suite: string;
  name: string;
  status: "pass" | "fail" | "skip";
  /** Failure or skip reason (one line). */
  reason?: string;
  /** For skips: grouping key, e.g. "op Resize" or "dtype bfloat16". */
  skipKey?: string;
  /** Number of test_data_set_N directories run. */
  sets?: number;
  /** Graph inputs bound as constants because they decide a shape (see inputsToFreeze). */
  frozen?: string[];
  ms: number;
}

/** Summary of one suite. */
export interface SuiteSummary {
  suite: string;
  ran: number;
  passed: number;
  failed: number;
  skipped: number;
  results: CaseResult[];
  ms: number;
}

/** True when the test data is installed. */
export function testdataPresent(root = TESTDATA_ROOT): boolean {
  try {
    return Deno.statSync(`${root}/node`).isDirectory;
  } catch {
    return false;
  }
}

/** Case directory names of a suite, sorted. */
export function listCases(suite: string, root = TESTDATA_ROOT): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${root}/${suite}`)) {
    if (e.isDirectory) out.push(e.name);
  }
  return out.sort();
}

function dataSets(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory && e.name.startsWith("test_data_set_")) out.push(e.name);
  }
  return out.sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)));
}

function readPbs(dir: string, prefix: "input" | "output"): Tensor[] {
  const out: Tensor[] = [];
  for (let k = 0;; k++) {
    const f = `${dir}/${prefix}_${k}.pb`;
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(f);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) break;
      throw e;
    }
    out.push(decodeTensorProto(bytes, `${prefix}_${k}.pb`));
  }
  return out;
}

/** Names of the graph inputs that are not initializers, and all graph outputs, in order. */
function graphIo(bytes: Uint8Array): { inputs: string[]; outputs: string[] } {
  const m = onnx.onnx.ModelProto.decode(bytes);
  const inits = new Set((m.graph?.initializer ?? []).map((t) => t.name ?? ""));
  return {
    inputs: (m.graph?.input ?? []).map((v) => v.name ?? "").filter((n) => !inits.has(n)),
    outputs: (m.graph?.output ?? []).map((v) => v.name ?? ""),
  };
}

/**
 * The runtime binds static shapes, so graph inputs whose values decide a shape (a
 * Reshape target, Slice starts, a Range limit...) must be constants at bind time.
 * When binding fails for that reason, returns the graph inputs (not yet in `frozen`)
 * the offending value depends on; they are then bound as constants holding the test
 * set's values, which exercises the very same kernels (constant folding runs `run`).
 */
function inputsToFreeze(g: Graph, e: unknown, frozen: ReadonlySet<string>): string[] {
  if (!(e instanceof EdgeqError)) return [];
  const m = /\(tensor '([^']*)'\) must be constant at bind time/.exec(e.message);
  if (!m) return [];
  const graphInputs = new Set(g.inputs.map((v) => v.name));
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const out: string[] = [];
  const seen = new Set<string>();
  const stack = [m[1]];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (graphInputs.has(v)) {
      if (!frozen.has(v)) out.push(v);
      continue;
    }
    for (const x of producer.get(v)?.inputs ?? []) if (x) stack.push(x);
  }
  return out;
}

/** A copy of `g` where the given inputs are initializers. */
function freezeInputs(g: Graph, values: ReadonlyMap<string, Tensor>): Graph {
  if (!values.size) return g;
  const initializers = new Map(g.initializers);
  for (const [n, t] of values) initializers.set(n, t);
  return { ...g, inputs: g.inputs.filter((v) => !values.has(v.name)), initializers };
}

/** Element-wise comparison; returns a one-line mismatch description or undefined. */
export function compareTensors(
  got: Tensor | undefined,
  want: Tensor,
  rtol = RTOL,
  atol = ATOL,
): string | undefined {
  if (!got) return "output missing";
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, expected ${want.dtype}`;
  if (
    got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])
  ) {
    return `shape ${fmtShape(got.shape)}, expected ${fmtShape(want.shape)}`;
  }
  if (got.data.length !== want.data.length) {
    return `data has ${got.data.length} elements, expected ${want.data.length}`;
  }
  const exact = want.dtype !== "float32" && want.dtype !== "float64";
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i], b = want.data[i];
    let ok: boolean;
    if (exact) ok = a === b;
    else if (Number.isNaN(b)) ok = Number.isNaN(a);
    else if (!Number.isFinite(b)) ok = a === b;
    else {
      const d = Math.abs(a - b);
      ok = d <= atol + rtol * Math.abs(b);
      if (!ok && d > worst) worst = d;
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return undefined;
  return `${bad}/${want.data.length} elements differ; first at ${first}: got ${
    got.data[first]
  }, expected ${want.data[first]}` + (exact ? "" : ` (max |diff| ${worst.toPrecision(3)})`);
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return msg.split("\n")[0].slice(0, 300);
}

/** If `e` means "this model is unsupported", returns its grouping key and reason. */
export function unsupportedReason(e: unknown): { key: string; reason: string } | undefined {
  if (!(e instanceof EdgeqError)) return undefined;
  const op = e.where.op ?? "";
  switch (e.code) {
    case "E_UNSUPPORTED_OP":
      return { key: `op ${op || "?"}`, reason: e.message };
    case "E_UNSUPPORTED_ATTR":
      return { key: `attr ${op || "?"}`, reason: e.message };
    case "E_UNSUPPORTED_DTYPE": {
      const m = /(b?float16|string|uint64|complex\d*|float8\w*|u?int4)\b/i.exec(e.message);
      const what = m?.[1].toLowerCase() ?? /got (\w+)/.exec(e.message)?.[1] ?? "?";
      return { key: `dtype ${what}${op ? ` (${op})` : ""}`, reason: e.message };
    }
  }
  for (const p of UNSUPPORTED_PATTERNS) {
    if (e.code === p.code && p.re.test(e.message)) {
      return { key: p.reason, reason: e.message };
    }
  }
  return undefined;
}

/** Runs one case directory. */
export function runCase(suite: string, name: string, root = TESTDATA_ROOT): CaseResult {
  const t0 = performance.now();
  const dir = `${root}/${suite}/${name}`;
  const done = (r: Omit<CaseResult, "suite" | "name" | "ms">): CaseResult => ({
    suite,
    name,
    ...r,
    ms: performance.now() - t0,
  });
  if (EXCLUDED[name]) {
    return done({ status: "skip", reason: EXCLUDED[name], skipKey: "excluded by name" });
  }
  let sets = 0;
  try {
    const bytes = Deno.readFileSync(`${dir}/model.onnx`);
    const graph = importOnnx(bytes, { path: `${suite}/${name}/model.onnx` });
    const io = graphIo(bytes);
    const setDirs = dataSets(dir);
    if (setDirs.length === 0) return done({ status: "fail", reason: "no test_data_set_N" });
    let bound: Graph | undefined;
    let boundKey = "";
    const frozen = new Set<string>();
    for (const sd of setDirs) {
      const ins = readPbs(`${dir}/${sd}`, "input");
      const outs = readPbs(`${dir}/${sd}`, "output");
      if (ins.length !== io.inputs.length) {
        return done({
          status: "fail",
          reason: `${sd}: ${ins.length} input files for ${io.inputs.length} graph inputs`,
        });
      }
      if (outs.length !== io.outputs.length) {
        return done({
          status: "fail",
          reason: `${sd}: ${outs.length} output files for ${io.outputs.length} graph outputs`,
        });
      }
      const shapes: Record<string, number[]> = {};
      const feeds: Record<string, Tensor> = {};
      io.inputs.forEach((n, k) => {
        shapes[n] = ins[k].shape;
        feeds[n] = ins[k];
      });
      // Inputs found to decide shapes are bound as constants (with this set's values).
      const frozenVals = [...frozen].map((n) => [n, feeds[n]] as const);
      const key = JSON.stringify([shapes, frozenVals.map(([n, t]) => [n, [...t.data]])]);
      if (!bound || key !== boundKey) {
        for (;;) {
          try {
            bound = prepareGraph(freezeInputs(graph, new Map(frozenVals)), { shapes });
            break;
          } catch (e) {
            const more = inputsToFreeze(graph, e, frozen);
            if (!more.length) throw e;
            for (const n of more) {
              frozen.add(n);
              frozenVals.push([n, feeds[n]]);
            }
          }
        }
        boundKey = JSON.stringify([shapes, frozenVals.map(([n, t]) => [n, [...t.data]])]);
      }
      const res = execute(bound!, feeds);
      for (let k = 0; k < outs.length; k++) {
        const diff = compareTensors(res[io.outputs[k]], outs[k]);
        if (diff) {
          return done({
            status: "fail",
            reason: `${sd} output ${k} '${io.outputs[k]}': ${diff}`,
            sets,
          });
        }
      }
      sets++;
    }
    return done({ status: "pass", sets, frozen: frozen.size ? [...frozen] : undefined });
  } catch (e) {
    const u = unsupportedReason(e);
    if (u) return done({ status: "skip", reason: oneLine(u.reason), skipKey: u.key });
    return done({ status: "fail", reason: oneLine(e), sets });
  }
}

/** Runs every case of a suite (optionally only names matching `filter`). */
export function runSuite(suite: string, filter?: RegExp, root = TESTDATA_ROOT): SuiteSummary {
  const t0 = performance.now();
  const results = listCases(suite, root)
    .filter((n) => !filter || filter.test(n))
    .map((n) => runCase(suite, n, root));
  const passed = results.filter((r) => r.status === "pass").length;
  const failed = results.filter((r) => r.status === "fail").length;
  const skipped = results.filter((r) => r.status === "skip").length;
  return {
    suite,
    ran: passed + failed,
    passed,
    failed,
    skipped,
    results,
    ms: performance.now() - t0,
  };
}

/** Skip keys with their case counts, most frequent first. */
export function skipGroups(results: readonly CaseResult[]): [string, number, string][] {
  const m = new Map<string, { n: number; ex: string }>();
  for (const r of results) {
    if (r.status !== "skip") continue;
    const k = r.skipKey ?? "?";
    const g = m.get(k) ?? { n: 0, ex: r.name };
    g.n++;
    m.set(k, g);
  }
  return [...m].map(([k, g]) => [k, g.n, g.ex] as [string, number, string])
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Human-readable summary of one suite. */
export function formatSummary(s: SuiteSummary, topSkips = 15, slowMs = 1000): string {
  const lines = [
    `onnx backend suite '${s.suite}': ran ${s.ran}, passed ${s.passed}, failed ${s.failed}, ` +
    `skipped (unsupported) ${s.skipped} [${(s.ms / 1000).toFixed(1)} s]`,
  ];
  const failed = s.results.filter((r) => r.status === "fail");
  if (failed.length) {
    lines.push("  failed:");
    for (const r of failed) lines.push(`    ${r.name}: ${r.reason}`);
  }
  const groups = skipGroups(s.results);
  if (groups.length) {
    lines.push(`  skip reasons (top ${Math.min(topSkips, groups.length)} of ${groups.length}):`);
    for (const [k, n, ex] of groups.slice(0, topSkips)) {
      lines.push(`    ${String(n).padStart(4)}  ${k}  (e.g. ${ex})`);
    }
  }
  const frozen = s.results.filter((r) => r.frozen);
  if (frozen.length) {
    lines.push(
      `  ${frozen.length} case(s) bound shape-deciding inputs (Reshape shape, Slice starts, ` +
        `TopK K...) as constants with the test set's values`,
    );
  }
  const slow = s.results.filter((r) => r.ms > slowMs).sort((a, b) => b.ms - a.ms);
  if (slow.length) {
    lines.push(
      `  slow (> ${slowMs} ms): ` +
        slow.map((r) => `${r.name} ${(r.ms / 1000).toFixed(1)} s`).join(", "),
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const args = Deno.args;
  const verbose = args.includes("--verbose");
  const fa = args.find((a) => a.startsWith("--filter="));
  const filter = fa ? new RegExp(fa.slice(9)) : undefined;
  const suites = args.filter((a) => !a.startsWith("--"));
  if (!testdataPresent()) {
    console.log(`${TESTDATA_ROOT} is absent (apt-get install libonnx-testdata)`);
    Deno.exit(0);
  }
  let failed = 0;
  for (const suite of suites.length ? suites : SUITES) {
    const s = runSuite(suite, filter);
    if (verbose) {
      for (const r of s.results) {
        console.log(
          `${r.status.padEnd(4)} ${suite}/${r.name} ${r.ms.toFixed(0)}ms` +
            (r.reason ? `  ${r.reason}` : "") + (r.frozen ? `  [constant: ${r.frozen}]` : ""),
        );
      }
    }
    console.log(formatSummary(s, verbose ? 1000 : 15));
    failed += s.failed;
  }
  Deno.exit(failed ? 1 : 0);
}
