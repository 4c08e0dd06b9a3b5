import assert from "node:assert/strict";
import { zlibSync } from "fflate";
import { buildModel } from "./onnx_build.ts";
import { loadIdxDir, parseIdx, parseNpy, parsePng } from "../runtime/data.ts";
import { EdgeqError } from "../runtime/errors.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FMNIST = `${ROOT}tests/fixtures/fmnist`;

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write=/tmp", `${ROOT}cli.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli eval --json: last line is the JSON result, accuracy as torch measured", async () => {
  const r = await cli("eval", "tests/fixtures/resnet14_op13.onnx", "--data", FMNIST, "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  const ref = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/resnet14.json`));
  assert.equal(j.n, 1000);
  assert.equal(j.backend, "ref");
  assert.ok(j.ms_per_image > 0);
  // Same model, same images: at most 0.1 pt from torch's figure on the slice.
  assert.ok(Math.abs(j.top1 - ref.top1_slice1000) <= 0.001, `${j.top1} vs ${ref.top1_slice1000}`);
});

Deno.test("cli eval: --limit and a non-image model give a clear error, exit 2", async () => {
  const r = await cli(
    "eval",
    "tests/fixtures/vit_op17.onnx",
    "--data",
    FMNIST,
    "--limit",
    "20",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split("\n").at(-1)!).n, 20);
  const path = await Deno.makeTempFile({ suffix: ".onnx" });
  await Deno.writeFile(
    path,
    buildModel({
      nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
      inputs: [["x", ["N", 4]]],
      outputs: [["y", ["N", 4]]],
    }),
  );
  const bad = await cli("eval", path, "--data", FMNIST);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /E_USAGE.*not an image batch/);
  const missing = await cli("eval", "tests/fixtures/nope.onnx", "--data", FMNIST);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read model/);
  await Deno.remove(path);
});

function png(w: number, h: number, grey: Uint8Array): Uint8Array {
  const crc = (b: Uint8Array) => {
    let c = ~0;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, body: Uint8Array) => {
    const b = new Uint8Array(12 + body.length);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, body.length);
    b.set(new TextEncoder().encode(type), 4);
    b.set(body, 8);
    dv.setUint32(8 + body.length, crc(b.subarray(4, 8 + body.length)));
    return b;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr[8] = 8;
  const raw = new Uint8Array(h * (w + 1));
  // Alternate filters 0 (none) and 2 (up) to exercise the unfilter path.
  for (let y = 0; y < h; y++) {
    raw[y * (w + 1)] = y % 2 ? 2 : 0;
    for (let x = 0; x < w; x++) {
      const v = grey[y * w + x], up = y ? grey[(y - 1) * w + x] : 0;
      raw[y * (w + 1) + 1 + x] = y % 2 ? (v - up) & 255 : v;
    }
  }
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlibSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

Deno.test("cli run: idx:, .png and .npy inputs give the same logits for the same image", async () => {
  const set = await loadIdxDir(FMNIST, 2);
  const img = set.pixels.subarray(784, 1568);
  const pngPath = await Deno.makeTempFile({ suffix: ".png" });
  await Deno.writeFile(pngPath, png(28, 28, img));
  assert.deepEqual(parsePng(await Deno.readFile(pngPath)).pixels, img);
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  const h = new TextEncoder().encode(header + " ".repeat(pad) + "\n");
  const npy = new Uint8Array(10 + h.length + 784 * 4);
  npy.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(npy.buffer).setUint16(8, h.length, true);
  npy.set(h, 10);
  new Float32Array(npy.buffer, 10 + h.length).set(Float32Array.from(img, (p) => p / 255));
  const npyPath = await Deno.makeTempFile({ suffix: ".npy" });
  await Deno.writeFile(npyPath, npy);
  assert.equal(parseNpy(npy).shape.join(), "1,1,28,28");
  const m = "tests/fixtures/resnet14_op13.onnx";
  const outs = [];
  for (const input of [`idx:${FMNIST}:1`, pngPath, npyPath]) {
    const r = await cli("run", m, "--input", input, "--json");
    assert.equal(r.code, 0, r.stderr);
    outs.push(JSON.parse(r.stdout.trim().split("\n").at(-1)!).outputs.logits);
  }
  assert.deepEqual(outs[0].shape, [1, 10]);
  assert.deepEqual(outs[1], outs[0]);
  assert.deepEqual(outs[2], outs[0]);
  const logits: number[] = outs[0].data;
  assert.equal(logits.indexOf(Math.max(...logits)), set.labels[1], "image 1 is classified right");
  await Deno.remove(pngPath);
  await Deno.remove(npyPath);
});

Deno.test("data: truncated or corrupt IDX/npy/png files give E_DATA, not RangeError", async () => {
  const { gunzipSync } = await import("fflate");
  const raw = gunzipSync(await Deno.readFile(`${FMNIST}/t10k-labels-idx1-ubyte.gz`));
  assert.equal(parseIdx(raw).dims[0], 1000);
  for (const bad of [raw.subarray(0, 6), raw.subarray(0, raw.length - 1), new Uint8Array(0)]) {
    assert.throws(() => parseIdx(bad), (e) => e instanceof EdgeqError && e.code === "E_DATA");
  }
  const gz = await Deno.readFile(`${FMNIST}/t10k-labels-idx1-ubyte.gz`);
  const flipped = gz.slice();
  flipped[flipped.length >> 1] ^= 0xff;
  assert.throws(() => parseIdx(flipped), (e) => e instanceof EdgeqError && e.code === "E_DATA");
  assert.throws(
    () => parseNpy(new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 255, 255])),
    (e) => e instanceof EdgeqError && e.code === "E_DATA",
  );
  const p = png(3, 2, new Uint8Array([1, 2, 3, 4, 5, 6]));
  assert.throws(
    () => parsePng(p.subarray(0, p.length - 20)),
    (e) => e instanceof EdgeqError && e.code === "E_DATA",
  );
});

Deno.test("cli quantize --report --json: per-layer ranges and Pearson for every estimator", async () => {
  const out = `/tmp/edgeq-report-${Date.now()}.eqp`;
  const r = await cli(
    "quantize",
    "tests/fixtures/resnet14_op13.onnx",
    "--calib",
    "tests/fixtures/fmnist_calib",
    "--calib-limit",
    "96",
    "--out",
    out,
    "--report",
    "--json",
  );
  try {
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    const rep = j.report;
    assert.deepEqual(rep.estimators, ["minmax", "p99.99", "entropy", "varclip"]);
    assert.deepEqual(rep.bits, [8, 4]);
    assert.equal(rep.samples, 24); // 25% of 96 held out
    assert.ok(rep.layers.length >= 30, `${rep.layers.length} layers`);
    for (const l of rep.layers) {
      assert.equal(l.ranges.length, 2);
      assert.equal(l.pearson[0].length, 4);
      for (const [lo, hi] of l.ranges[0]) {
        assert.ok(lo <= 0 && hi > lo, `${l.tensor}: [${lo}, ${hi}]`);
      }
      for (const p of l.pearson[0]) assert.ok(p > 0.9 && p <= 1, `${l.tensor}: ${p}`);
    }
    // The table went to stderr (stdout stays machine-readable), one row per layer.
    assert.match(r.stderr, /mean over \d+ layers/);
    // Min/max ranges contain the clipped ones (variance-clipped never widens the range).
    for (const l of rep.layers) {
      const [mm, , , vc] = l.ranges[0];
      assert.ok(vc[0] >= mm[0] - 1e-9 && vc[1] <= mm[1] + 1e-9, l.tensor);
    }
  } finally {
    await Deno.remove(out).catch(() => {});
  }
});

Deno.test("cli quantize --compress all: smaller file, same outputs; a bad value is a usage error", async () => {
  const base = `/tmp/edgeq-compress-${Date.now()}`;
  const q = (mode: string, out: string) =>
    cli(
      "quantize",
      "tests/fixtures/resnet14_op13.onnx",
      "--calib",
      "tests/fixtures/fmnist_calib",
      "--calib-limit",
      "32",
      "--compress",
      mode,
      "--out",
      out,
      "--json",
    );
  try {
    const a = await q("manifest", `${base}-m.eqp`), b = await q("all", `${base}-a.eqp`);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ja = JSON.parse(a.stdout.trim().split("\n").at(-1)!);
    const jb = JSON.parse(b.stdout.trim().split("\n").at(-1)!);
    assert.ok(jb.bytes < ja.bytes, `${jb.bytes} vs ${ja.bytes}`);
    const ra = await cli("run", `${base}-m.eqp`, "--input", `idx:${FMNIST}:3`, "--json");
    const rb = await cli("run", `${base}-a.eqp`, "--input", `idx:${FMNIST}:3`, "--json");
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(ra.stdout.trim().split("\n").at(-1), rb.stdout.trim().split("\n").at(-1));
    const bad = await q("zip", `${base}-z.eqp`);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--compress must be manifest\|all\|none/);
  } finally {
    for (const s of ["m", "a", "z"]) await Deno.remove(`${base}-${s}.eqp`).catch(() => {});
  }
});
