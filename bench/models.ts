/**
 * The benchmark's models: the bundled Fashion-MNIST fixtures (ResNet-14, ViT) and the
 * zoo exported by tools/export_zoo.py into .cache/zoo (resnet18, mobilenet_v2,
 * vit_tiny at 1×3×224×224), or any ONNX path. Each is quantized once (fixtures with
 * their calibration images, others with a handful of seeded random-normal samples),
 * exported as ONNX QDQ, and cached under the cache folder, keyed by the ONNX bytes'
 * hash.
 * @module
 */
import { importOnnx } from "../quantizer/onnx_import.ts";
import { quantize } from "../quantizer/quantize.ts";
import { exportQdq } from "../quantizer/export_qdq.ts";
import { loadSamples, type SampleSet } from "../quantizer/calib/source.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { writePackedFile } from "../runtime/format/writer.ts";

/** The command that produces the zoo models. */
export const ZOO_HINT =
  "/usr/bin/python3 tools/export_zoo.py --out .cache/zoo --models resnet18,mobilenet_v2,vit_tiny " +
  "(Debian: apt-get install python3-torch python3-torchvision python3-onnx libopenblas0-pthread)";

/** Fixture models: name → ONNX file and calibration. */
export const FIXTURES: Readonly<Record<string, { onnx: string; calibLimit: number }>> = {
  resnet14_op13: { onnx: "tests/fixtures/resnet14_op13.onnx", calibLimit: 512 },
  vit_op17: { onnx: "tests/fixtures/vit_op17.onnx", calibLimit: 128 },
};

/** Zoo model names (files NAME.onnx / NAME.input.bin in the zoo folder). */
export const ZOO: readonly string[] = ["resnet18", "mobilenet_v2", "vit_tiny"];

/** Where the Fashion-MNIST fixture data live. */
export const FMNIST_SLICE = "tests/fixtures/fmnist";
const FMNIST_CALIB = "tests/fixtures/fmnist_calib";

/** A model ready to benchmark. */
export interface BenchModel {
  /** Short name (fixture / zoo name, or the file's base name). */
  name: string;
  /** Float ONNX model. */
  onnxPath: string;
  /** edgeq int8 packed model (cached). */
  eqpPath: string;
  /** The packed model exported as ONNX QDQ (cached). */
  qdqPath: string;
  /** The single graph input. */
  inputName: string;
  /** Its shape at batch 1. */
  inputShape: number[];
  /** The input every runtime is timed on. */
  input: Float32Array;
  /** Set for Fashion-MNIST classifiers: top-1 is measured on this IDX folder. */
  classifierData?: string;
}

/** A model that could not be prepared, and why (with how to fix it). */
export interface Skipped {
  name: string;
  reason: string;
}

/** Options of {@link resolveModels}. */
export interface ResolveOptions {
  /** Cache folder for .eqp / QDQ files. Default ".cache/bench". */
  cacheDir?: string;
  /** Zoo folder. Default ".cache/zoo". */
  zooDir?: string;
  /** Calibration images for the fixtures (default: the fixture's own, 512 / 128). */
  fixtureCalib?: number;
  /** Random-normal calibration samples for non-fixture models. Default 8. */
  randomCalib?: number;
  /** Progress messages. */
  log?: (msg: string) => void;
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** The quantizer's lowering source (part of the cache key). */
async function quantizerSource(): Promise<Uint8Array> {
  return await Deno.readFile(new URL("../quantizer/quantize.ts", import.meta.url));
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function hashHex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(d.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Seeded standard-normal samples (Box–Muller over an LCG) of the given shape.
 *
 * @example
 * ```ts
 * const calib = randomNormalSamples([3, 224, 224], 8, 1);
 * calib.batch(0, 8).shape; // [8, 3, 224, 224]
 * ```
 */
export function randomNormalSamples(sampleShape: number[], n: number, seed: number): SampleSet {
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(per * n);
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 4294967297;
  };
  for (let i = 0; i < data.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())), t = 2 * Math.PI * u();
    data[i] = r * Math.cos(t);
    if (i + 1 < data.length) data[i + 1] = r * Math.sin(t);
  }
  return {
    n,
    sampleShape,
    batch: (start, count) => ({
      dtype: "float32",
      shape: [count, ...sampleShape],
      data: data.slice(start * per, (start + count) * per),
    }),
  };
}

/**
 * Finds, quantizes (cached) and exports the named models. Names: fixture names, zoo
 * names, or paths to .onnx files. Missing zoo models are skipped with the command
 * that produces them.
 *
 * @example
 * ```ts
 * const { models, skipped } = await resolveModels(["resnet14_op13", "resnet18"]);
 * ```
 */
export async function resolveModels(
  names: readonly string[],
  opts: ResolveOptions = {},
): Promise<{ models: BenchModel[]; skipped: Skipped[] }> {
  const cacheDir = opts.cacheDir ?? ".cache/bench", zooDir = opts.zooDir ?? ".cache/zoo";
  const log = opts.log ?? (() => {});
  const models: BenchModel[] = [], skipped: Skipped[] = [];
  for (const name of names) {
    const fixture = FIXTURES[name];
    const isZoo = ZOO.includes(name);
    const onnxPath = fixture?.onnx ?? (isZoo ? `${zooDir}/${name}.onnx` : name);
    const short = fixture || isZoo ? name : onnxPath.replace(/^.*\//, "").replace(/\.onnx$/, "");
    if (!(await exists(onnxPath))) {
      skipped.push({
        name: short,
        reason: isZoo
          ? `${onnxPath} is missing; produce it with: ${ZOO_HINT}`
          : `${onnxPath} not found`,
      });
      continue;
    }
    const onnxBytes = await Deno.readFile(onnxPath);
    const g = importOnnx(onnxBytes, { path: onnxPath });
    if (g.inputs.length !== 1) {
      skipped.push({ name: short, reason: `has ${g.inputs.length} inputs; the bench feeds one` });
      continue;
    }
    const inputName = g.inputs[0].name;
    const inputShape = g.inputs[0].shape.map((
      d,
      i,
    ) => (typeof d === "number" && d > 0 ? d : i === 0 ? 1 : NaN));
    if (inputShape.some((d) => !Number.isFinite(d))) {
      skipped.push({ name: short, reason: `input shape [${g.inputs[0].shape}] is not static` });
      continue;
    }
    const fixtureCalib = opts.fixtureCalib ?? fixture?.calibLimit;
    const calib = fixture ? `fmnist_calib:${fixtureCalib}` : `randn:${opts.randomCalib ?? 8}`;
    // The key covers the model and the quantizer's own source, so a quantizer change
    // never benchmarks a stale file.
    const key = `${short}-${await hashHex(concatBytes(onnxBytes, await quantizerSource()))}-${
      calib.replace(/[^a-z0-9]/gi, "")
    }-w7`;
    const eqpPath = `${cacheDir}/${key}.eqp`, qdqPath = `${cacheDir}/${key}_qdq.onnx`;
    if (!(await exists(eqpPath))) {
      log(`quantizing ${short} (${calib}) into ${cacheDir}`);
      await Deno.mkdir(cacheDir, { recursive: true });
      const samples = fixture
        ? await loadSamples(FMNIST_CALIB, { limit: fixtureCalib })
        : randomNormalSamples(inputShape.slice(1), opts.randomCalib ?? 8, 12345);
      // 7-bit weights: the wasm backend's one-dot-per-16-products path (its s8 layout)
      const q = quantize(onnxBytes, samples, {
        batchSize: 8,
        weightBits: 7,
        producer: { source: onnxPath },
      });
      await writePackedFile(eqpPath, q.bytes);
    }
    if (!(await exists(qdqPath))) {
      log(`exporting ${short} as ONNX QDQ`);
      await writePackedFile(
        qdqPath,
        exportQdq(await Deno.readFile(eqpPath), { path: eqpPath }).bytes,
      );
    }
    let input: Float32Array;
    let classifierData: string | undefined;
    if (fixture) {
      const set = await loadIdxDir(FMNIST_SLICE, 1);
      input = imageBatch(set, 0, 1, inputShape[1]).data as Float32Array;
      classifierData = FMNIST_SLICE;
    } else if (isZoo && (await exists(`${zooDir}/${name}.input.bin`))) {
      const b = await Deno.readFile(`${zooDir}/${name}.input.bin`);
      input = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
    } else {
      input = randomNormalSamples(inputShape.slice(1), 1, 999).batch(0, 1).data as Float32Array;
    }
    models.push({
      name: short,
      onnxPath,
      eqpPath,
      qdqPath,
      inputName,
      inputShape,
      input,
      classifierData,
    });
  }
  return { models, skipped };
}
