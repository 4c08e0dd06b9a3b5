/**
 * Calibration / evaluation samples: an IDX image folder (Fashion-MNIST layout,
 * read with `loadIdxDir`) or a folder of `.npy` files, each holding one sample or a
 * batch of samples. Samples are small (they are model inputs), so they are held in
 * memory; activations never are.
 */
import { EdgeqError } from "../../runtime/errors.ts";
import { imageBatch, type ImageSet, loadIdxDir, parseNpy } from "../../runtime/data.ts";
import type { Tensor } from "../../runtime/tensor.ts";

/** A set of model inputs (float32), optionally labelled. */
export interface SampleSet {
  /** Number of samples. */
  n: number;
  /** Shape of one sample (without the batch axis). */
  sampleShape: number[];
  /** Labels, when the source has them (IDX). */
  labels?: Uint8Array;
  /** Samples [start, start+count) as a float32 tensor [count, ...sampleShape]. */
  batch(start: number, count: number): Tensor;
}

/** Options of {@link loadSamples}. */
export interface LoadSamplesOptions {
  /** Most samples to read. Default 512. */
  limit?: number;
  /** Samples to skip first (e.g. to hold out a slice). Default 0. */
  offset?: number;
  /**
   * Shape of one sample the model expects (e.g. [1, 28, 28]); used to replicate
   * grey IDX images to the model's channel count and to check .npy shapes.
   */
  sampleShape?: number[];
}

/** Wraps an {@link ImageSet} (pixels scaled to [0, 1], grey replicated to `channels`). */
export function imageSamples(set: ImageSet, channels = 1, offset = 0, limit = set.n): SampleSet {
  const n = Math.max(0, Math.min(limit, set.n - offset));
  return {
    n,
    sampleShape: [channels, set.rows, set.cols],
    labels: set.labels.subarray(offset, offset + n),
    batch: (start, count) => imageBatch(set, offset + start, count, channels),
  };
}

/**
 * Loads samples from a folder: `.npy` files when it holds any (sorted by name;
 * a file of shape `sampleShape` is one sample, `[b, ...sampleShape]` is b samples),
 * else an IDX image/label pair.
 *
 * @example
 * ```ts
 * const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 64 });
 * const x = calib.batch(0, 32); // float32 [32, 1, 28, 28]
 * ```
 */
export async function loadSamples(dir: string, opts: LoadSamplesOptions = {}): Promise<SampleSet> {
  const limit = opts.limit ?? 512, offset = opts.offset ?? 0;
  const npy: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".npy")) npy.push(e.name);
    }
  } catch (e) {
    throw new EdgeqError("E_DATA", `cannot read data folder: ${(e as Error).message}`, {
      path: dir,
    });
  }
  if (npy.length === 0) {
    const set = await loadIdxDir(dir, offset + limit);
    const channels = opts.sampleShape?.length === 3 ? opts.sampleShape[0] : 1;
    return imageSamples(set, channels, offset, limit);
  }
  npy.sort();
  const chunks: Float32Array[] = [];
  let shape: number[] | undefined = opts.sampleShape;
  let total = 0;
  for (const name of npy) {
    if (total >= offset + limit) break;
    const path = `${dir}/${name}`;
    const t = parseNpy(await Deno.readFile(path), path);
    shape ??= t.shape.length > 1 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape;
    const per = shape.reduce((a, d) => a * d, 1);
    const same = (a: number[], b: number[]) =>
      a.length === b.length && a.every((d, i) => d === b[i]);
    let count: number;
    if (same(t.shape, shape)) count = 1;
    else if (same(t.shape.slice(1), shape)) count = t.shape[0];
    else {
      throw new EdgeqError(
        "E_DATA",
        `.npy shape [${t.shape}] is neither one sample [${shape}] nor a batch of them`,
        { path },
      );
    }
    chunks.push(Float32Array.from(t.data as ArrayLike<number>).subarray(0, count * per));
    total += count;
  }
  const per = shape!.reduce((a, d) => a * d, 1);
  const all = new Float32Array(total * per);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const n = Math.max(0, Math.min(limit, total - offset));
  const sampleShape = shape!;
  return {
    n,
    sampleShape,
    batch(start, count) {
      const s = (offset + start) * per;
      return {
        dtype: "float32",
        shape: [count, ...sampleShape],
        data: all.slice(s, s + count * per),
      };
    },
  };
}
