/**
 * `deno task edgeq devices [--json] [--probe [--cache FILE]]`: this device's profile
 * beside the named target profiles, and (with --probe) the backend `auto` picks.
 * @module
 */
import { detectProfile, type DeviceProfile } from "./detect.ts";
import { NAMED_PROFILES } from "./profiles.ts";
import { type BackendChoice, chooseBackend } from "./choose.ts";

/**
 * Renders a profile as text lines.
 *
 * @example
 * ```ts
 * console.log(formatProfile(await detectProfile()));
 * ```
 */
export function formatProfile(p: DeviceProfile): string {
  const yes = (b: boolean | undefined) => (b ? "yes" : "no");
  const g = p.webgpu;
  const lines = [
    `host        ${p.hostVersion}`,
    `os / arch   ${p.os} / ${p.arch}`,
    `cores       ${p.cores}`,
    `memory      ${
      p.memory
        ? `${(p.memory.total / 2 ** 30).toFixed(1)} GiB total` +
          (p.memory.available !== undefined
            ? `, ${(p.memory.available / 2 ** 30).toFixed(1)} GiB available`
            : "")
        : "unknown (Deno needs --allow-sys)"
    }`,
    `wasm        simd ${yes(p.wasm.simd)}, relaxed simd ${yes(p.wasm.relaxedSimd)}, threads ${
      yes(p.wasm.threads)
    }${
      p.wasm.crossOriginIsolated === undefined
        ? ""
        : `, cross-origin isolated ${yes(p.wasm.crossOriginIsolated)}`
    }`,
    g.available
      ? `webgpu      ${
        [g.vendor, g.architecture, g.device, g.description].filter(Boolean).join(" / ")
      }${g.fallback ? " (fallback adapter)" : ""}`
      : `webgpu      unavailable: ${g.reason}`,
  ];
  if (g.available) {
    lines.push(
      `  wgsl      ${g.wgslFeatures.join(", ") || "(none)"}`,
      `  features  ${g.features.join(", ") || "(none)"}`,
      `  limits    ${Object.entries(g.limits).map(([k, v]) => `${k}=${v}`).join(", ")}`,
    );
  }
  return lines.join("\n");
}

/**
 * The `devices` command's output (text or one JSON line).
 *
 * @example
 * ```ts
 * console.log(await devicesCommand({ json: false, probe: true, cachePath: "/tmp/b.json" }));
 * ```
 */
export async function devicesCommand(
  o: { json?: boolean; probe?: boolean; cachePath?: string; threads?: number },
): Promise<string> {
  const p = await detectProfile();
  let choice: BackendChoice | undefined;
  if (o.probe) choice = await chooseBackend(p, { cachePath: o.cachePath, threads: o.threads });
  if (o.json) return JSON.stringify({ profile: p, auto: choice, named_profiles: NAMED_PROFILES });
  const out = ["this device:", formatProfile(p)];
  if (choice) {
    out.push(
      `\nbackend "auto": ${choice.backend} — ${choice.reason}${choice.cached ? " (cached)" : ""}`,
    );
  } else out.push('\n(--probe: measure and show the backend "auto" picks)');
  out.push("\nnamed target profiles (expected):");
  for (const n of NAMED_PROFILES) {
    out.push(
      `  ${
        n.id.padEnd(17)
      } ${n.name}: ${n.cpu}, ${n.memoryGiB} GiB; expected backend ${n.expectedBackend}`,
      `  ${"".padEnd(17)} int8: ${n.int8}`,
      `  ${"".padEnd(17)} webgpu: ${n.webgpu}`,
    );
  }
  return out.join("\n");
}
