/**
 * Timing and memory helpers of the benchmark: warm-up then N timed runs, median and
 * spread; the process's resident memory (current and peak, from /proc where readable);
 * waiting until the process's threads are idle.
 * @module
 */
import process from "node:process";

/** Latency statistics of timed runs, in milliseconds. */
export interface Timing {
  /** Timed runs. */
  runs: number;
  /** Median. */
  median: number;
  /** Fastest run. */
  min: number;
  /** Slowest run. */
  max: number;
}

/**
 * Runs `fn` `warmup` times untimed, then `runs` times timed (one call each).
 *
 * @example
 * ```ts
 * const t = await timeRuns(() => session.run(feeds), { warmup: 3, runs: 20 });
 * console.log(t.median, t.min, t.max);
 * ```
 */
export async function timeRuns(
  fn: () => Promise<unknown>,
  opts: { warmup: number; runs: number },
): Promise<Timing> {
  for (let i = 0; i < opts.warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return summarize(ms);
}

/**
 * Median / min / max of a list of durations.
 *
 * @example
 * ```ts
 * summarize([3, 1, 2]); // { runs: 3, median: 2, min: 1, max: 3 }
 * ```
 */
export function summarize(ms: readonly number[]): Timing {
  if (ms.length === 0) return { runs: 0, median: NaN, min: NaN, max: NaN };
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { runs: s.length, median, min: s[0], max: s[s.length - 1] };
}

/**
 * Resident memory of this process in bytes: `rss` now and `peak` (VmHWM from
 * /proc/self/status; equal to rss where /proc is not readable).
 *
 * @example
 * ```ts
 * const { rss, peak } = memory();
 * ```
 */
export function memory(): { rss: number; peak: number } {
  const rss = Deno.memoryUsage().rss;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return { rss, peak: Number(m[1]) * 1024 };
  } catch { /* not Linux, or no read permission on /proc */ }
  return { rss, peak: rss };
}

/** What {@link settle} waited. */
export interface Settled {
  /** Wall ms from the call to its return. */
  waitedMs: number;
  /** True when `capMs` ran out before the process was idle for `quietMs`. */
  capped: boolean;
}

/**
 * Waits until the process has been idle (its threads, all together, used under a fifth
 * of one core) for `quietMs` in a row, checked in 5 ms steps; at most `capMs`. A run timed
 * after it starts on cores that no thread of this process is spinning on: onnxruntime-web's
 * threads keep the process busy for tens of ms after a 2-thread run returns, so a fixed
 * pause could overlap them with the next runtime's run.
 *
 * @example
 * ```ts
 * await settle(25); // then time a run "after the host idled"
 * ```
 */
export async function settle(quietMs: number, capMs = 1000): Promise<Settled> {
  const t0 = performance.now();
  let quiet = 0, cpu = cpuMs(), w = t0;
  while (quiet < quietMs) {
    if (performance.now() - t0 >= capMs) return { waitedMs: performance.now() - t0, capped: true };
    await new Promise((r) => setTimeout(r, Math.min(5, quietMs - quiet)));
    const now = performance.now(), c = cpuMs();
    quiet = c - cpu < 0.2 * (now - w) ? quiet + (now - w) : 0;
    cpu = c;
    w = now;
  }
  return { waitedMs: performance.now() - t0, capped: false };
}

/** The process's CPU time (user + system, every thread), ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
