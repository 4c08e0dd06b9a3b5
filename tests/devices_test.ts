/**
 * devices/: profile detection on this machine, the wasm feature probes (valid and
 * deliberately broken modules), named profiles, backend "auto" with its per-device
 * JSON cache (in /tmp), the probe graph against the ref oracle, load(..., {backend:
 * "auto"}), and the `devices` command.
 */
import assert from "node:assert/strict";
import { relaxedDotLowering } from "../kernels/wasm/probes.ts";
import {
  detectProfile,
  type DeviceProfile,
  NOT_PROBED,
  RELAXED_SIMD_PROBE,
  SIMD_PROBE,
  summarize,
} from "../devices/detect.ts";
import { candidates, chooseBackend, deviceKey, probeGraph } from "../devices/choose.ts";
import { NAMED_PROFILES } from "../devices/profiles.ts";
import { devicesCommand } from "../devices/report.ts";
import { getBackend } from "../runtime/backend.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { execute } from "../runtime/executor.ts";
import { load } from "../runtime/model.ts";
import { EdgeqError } from "../runtime/errors.ts";

const OPTS = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: 'devices: a profile detected without the GPU probe says so (not "no webgpu")',
  ...OPTS,
  async fn() {
    const p = await detectProfile({ gpu: false });
    assert.equal(p.webgpu.available, false);
    assert.equal(p.webgpu.reason, NOT_PROBED);
    assert.match(p.summary, /, webgpu not probed$/);
    const absent = summarize({ ...p, webgpu: { ...p.webgpu, reason: "no navigator.gpu" } });
    assert.match(absent, /, no webgpu$/);
  },
});

Deno.test({
  name: "devices: the profile of this machine has every field",
  ...OPTS,
  async fn() {
    const p = await detectProfile();
    assert.equal(p.host, "deno");
    assert.equal(p.os, Deno.build.os);
    assert.equal(p.arch, Deno.build.arch);
    assert.equal(p.cores, navigator.hardwareConcurrency);
    assert.ok(p.cores >= 1);
    assert.match(p.hostVersion, /^deno \d+\.\d+\.\d+ \(V8 /);
    // V8 in Deno 2 has SIMD, relaxed SIMD and shared memory (PROBES.md).
    const { relaxedDot, ...flags } = p.wasm;
    assert.deepEqual(flags, { simd: true, relaxedSimd: true, threads: true });
    // the relaxed dot's lowering, as the wasm backend's build choice reads it
    assert.equal(relaxedDot, relaxedDotLowering());
    assert.ok(["vnni", "pmaddubsw", "sdot", "other"].includes(relaxedDot!), relaxedDot);
    if (p.webgpu.available) {
      assert.ok(Array.isArray(p.webgpu.features));
      assert.ok(p.webgpu.limits.maxBufferSize! > 0);
      assert.ok(Array.isArray(p.webgpu.wgslFeatures));
    } else assert.ok(p.webgpu.reason);
    assert.equal(p.summary, summarize(p));
    assert.match(p.summary, new RegExp(`${p.cores} cores`));
    // The test task has no --allow-sys: memory is left undefined rather than guessed.
    const sys = await Deno.permissions.query({ name: "sys", kind: "systemMemoryInfo" });
    assert.equal(p.memory === undefined, sys.state !== "granted");
  },
});

Deno.test("devices: the SIMD probes are real modules (broken variants fail)", () => {
  assert.ok(WebAssembly.validate(new Uint8Array(SIMD_PROBE)));
  assert.ok(WebAssembly.validate(new Uint8Array(RELAXED_SIMD_PROBE)));
  // Replace the relaxed opcode (0xfd 0x80 0x02 = 0x100) by an unassigned one (0x1ff).
  const bad = Uint8Array.from(RELAXED_SIMD_PROBE);
  const at = bad.length - 3;
  assert.deepEqual([...bad.subarray(at, at + 2)], [0x80, 0x02]);
  bad[at] = 0xff;
  bad[at + 1] = 0x03;
  assert.equal(WebAssembly.validate(bad), false);
  const trunc = SIMD_PROBE.subarray(0, SIMD_PROBE.length - 1);
  assert.equal(WebAssembly.validate(new Uint8Array(trunc)), false);
});

Deno.test("devices: named profiles document the targets", () => {
  const ids = NAMED_PROFILES.map((p) => p.id);
  assert.deepEqual(ids, ["rpi4", "rpi5", "jetson-orin-nano", "desktop-browser"]);
  for (const p of NAMED_PROFILES) {
    assert.ok(p.cores > 0 && p.memoryGiB > 0 && p.cpu && p.webgpu && p.int8);
    assert.ok(["wasm", "webgpu"].includes(p.expectedBackend));
  }
  assert.match(NAMED_PROFILES[0].cpu, /Cortex-A72/);
  assert.match(NAMED_PROFILES[1].cpu, /Cortex-A76/);
});

function fake(over: Partial<DeviceProfile>): DeviceProfile {
  const base: DeviceProfile = {
    host: "deno",
    hostVersion: "deno 2",
    os: "linux",
    arch: "aarch64",
    cores: 4,
    wasm: { simd: true, relaxedSimd: true, threads: true },
    webgpu: { available: false, reason: "none", features: [], limits: {}, wgslFeatures: [] },
    summary: "",
    ...over,
  };
  return { ...base, summary: summarize(base) };
}

Deno.test("devices: static candidates and device keys", () => {
  assert.deepEqual(candidates(fake({})), ["wasm", "ref"]);
  const gpu = { available: true, features: [], limits: {}, wgslFeatures: [], description: "x" };
  assert.deepEqual(candidates(fake({ webgpu: { ...gpu, fallback: false } })), [
    "webgpu",
    "wasm",
    "ref",
  ]);
  assert.deepEqual(candidates(fake({ webgpu: { ...gpu, fallback: true } })), [
    "wasm",
    "webgpu",
    "ref",
  ]);
  assert.deepEqual(
    candidates(fake({ wasm: { simd: false, relaxedSimd: false, threads: false } })),
    [
      "ref",
    ],
  );
  assert.equal(deviceKey(fake({})), deviceKey(fake({})));
  assert.notEqual(deviceKey(fake({})), deviceKey(fake({ cores: 8 })));
  assert.match(deviceKey(fake({})), /^deno-aarch64-4c-[0-9a-f]{8}$/);
});

Deno.test({
  name: "devices: every usable backend runs the probe graph bit-exactly",
  ...OPTS,
  async fn() {
    const g = prepareGraph(probeGraph(), { batch: 1 });
    const x = {
      dtype: "float32" as const,
      shape: [1, 16, 24, 24],
      data: Float32Array.from({ length: 16 * 576 }, (_, i) => Math.sin(i * 0.37) * 2.5),
    };
    const ref = execute(g, { x }).y.data;
    assert.ok(new Set(ref).size > 20, "probe output spreads over many codes");
    for (const name of ["wasm", "webgpu"]) {
      let b;
      try {
        b = await getBackend(name);
      } catch (e) {
        console.log(`probe graph on ${name}: skipped (${(e as Error).message})`);
        continue;
      }
      const c = await b.compile(g, {});
      const y = (await c.run({ x })).y.data;
      c.dispose();
      assert.deepEqual(Array.from(y), Array.from(ref), `${name} differs from ref`);
    }
  },
});

Deno.test({
  name: "devices: chooseBackend probes once, caches per device in the given file",
  ...OPTS,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "edgeq_devices_" });
    try {
      const p = await detectProfile();
      const path = `${dir}/backend.json`;
      const first = await chooseBackend(p, { cachePath: path });
      assert.equal(first.cached, false);
      assert.ok(first.measured && Object.keys(first.measured).length >= 2, first.reason);
      const best = Object.entries(first.measured!).sort((a, b) => a[1]! - b[1]!)[0][0];
      assert.equal(first.backend, best);
      const file = JSON.parse(await Deno.readTextFile(path));
      assert.equal(file.version, 1);
      assert.equal(file.devices[deviceKey(p)].backend, first.backend);
      const again = await chooseBackend(p, { cachePath: path });
      assert.equal(again.cached, true);
      assert.equal(again.backend, first.backend);
      // A cache entry for this device decides without probing (here: ref, which always loads).
      file.devices[deviceKey(p)].backend = "ref";
      await Deno.writeTextFile(path, JSON.stringify(file));
      assert.equal((await chooseBackend(p, { cachePath: path })).backend, "ref");
      // Without a path nothing is written.
      const before = [...Deno.readDirSync(dir)].length;
      await chooseBackend(p, { noProbe: true });
      assert.equal([...Deno.readDirSync(dir)].length, before);
      // A damaged cache is an EdgeqError naming the file.
      await Deno.writeTextFile(path, "{not json");
      await assert.rejects(
        () => chooseBackend(p, { cachePath: path }),
        (e) => e instanceof EdgeqError && e.code === "E_FORMAT" && e.message.includes(path),
      );
      // load(..., { backend: "auto" }) uses the choice (cached file → ref).
      await Deno.writeTextFile(path, JSON.stringify(file));
      const m = await load("tests/fixtures/resnet14_op13.onnx", {
        backend: "auto",
        autoCachePath: path,
      });
      assert.equal(m.backend, "ref");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "devices: the devices command prints the profile and the named targets",
  ...OPTS,
  async fn() {
    const text = await devicesCommand({});
    assert.match(text, /^this device:/);
    assert.match(text, /wasm\s+simd yes, relaxed simd yes, threads yes/);
    assert.match(text, /rpi4 .*Cortex-A72/);
    const j = JSON.parse(await devicesCommand({ json: true }));
    assert.equal(j.profile.arch, Deno.build.arch);
    assert.equal(j.named_profiles.length, 4);
    assert.equal(j.auto, undefined);
  },
});
