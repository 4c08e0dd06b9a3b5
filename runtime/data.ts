/**
 * Input data readers for `eval`/`run` and calibration: IDX image/label files
 * (Fashion-MNIST's format, optionally gzipped), NumPy `.npy` arrays and 8-bit
 * PNG images. Every reader validates declared sizes before allocating.
 */
import { gunzipSync, unzlibSync } from "fflate";
import { crc32 } from "./crc32.ts";
import { EdgeqError } from "./errors.ts";
import { type Tensor } from "./tensor.ts";

/** A set of images with labels, pixels as bytes, row-major [n, rows, cols]. */
export interface ImageSet {
  n: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

function maybeGunzip(bytes: Uint8Array, path: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    let out: Uint8Array;
    try {
      out = gunzipSync(bytes);
    } catch (e) {
      throw new EdgeqError("E_DATA", `corrupt gzip data: ${(e as Error).message}`, { path });
    }
    // fflate does not check the trailer: verify CRC-32 and length ourselves.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = bytes.length;
    if (
      end < 18 || dv.getUint32(end - 8, true) !== crc32(out) ||
      dv.getUint32(end - 4, true) !== (out.length >>> 0)
    ) {
      throw new EdgeqError("E_DATA", "gzip CRC-32 or length mismatch (corrupt file)", { path });
    }
    return out;
  }
  return bytes;
}

/** Parses an IDX file (magic 0x00000803 images or 0x00000801 labels, u8 data). */
export function parseIdx(bytes: Uint8Array, path = "(idx)"): { dims: number[]; data: Uint8Array } {
  const b = maybeGunzip(bytes, path);
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0x08) {
    throw new EdgeqError("E_DATA", "not an unsigned-byte IDX file (bad magic)", { path });
  }
  const rank = b[3];
  if (rank < 1 || rank > 4 || b.length < 4 + 4 * rank) {
    throw new EdgeqError("E_DATA", `IDX header truncated or rank ${rank} unsupported`, { path });
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const n = dims.reduce((a, d) => a * d, 1);
  const off = 4 + 4 * rank;
  if (b.length - off !== n) {
    throw new EdgeqError(
      "E_DATA",
      `IDX declares ${n} bytes of data (dims ${dims.join("x")}), file has ${b.length - off}`,
      { path },
    );
  }
  return { dims, data: b.subarray(off) };
}

/**
 * Loads an image/label IDX pair from a folder: files named like
 * `*images-idx3-ubyte[.gz]` and `*labels-idx1-ubyte[.gz]`. When the folder holds
 * both a t10k and a train pair, the t10k pair is used.
 */
export async function loadIdxDir(dir: string, limit?: number): Promise<ImageSet> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  } catch (e) {
    throw new EdgeqError("E_DATA", `cannot read data folder: ${(e as Error).message}`, {
      path: dir,
    });
  }
  const pick = (re: RegExp) => {
    const c = names.filter((n) => re.test(n)).sort();
    return c.find((n) => n.startsWith("t10k")) ?? c[0];
  };
  const img = pick(/images-idx3-ubyte(\.gz)?$/);
  const lab = img && pick(
    new RegExp(
      "^" + img.split("images-idx3-ubyte")[0].replace(/[.*+?^${}()|[\]\\]/g, "\\$&") +
        "labels-idx1-ubyte(\\.gz)?$",
    ),
  );
  if (!img || !lab) {
    throw new EdgeqError(
      "E_DATA",
      "folder holds no *images-idx3-ubyte[.gz] / *labels-idx1-ubyte[.gz] pair",
      { path: dir },
    );
  }
  const ip = `${dir}/${img}`, lp = `${dir}/${lab}`;
  const images = parseIdx(await Deno.readFile(ip), ip);
  const labels = parseIdx(await Deno.readFile(lp), lp);
  if (images.dims.length !== 3 || labels.dims.length !== 1) {
    throw new EdgeqError("E_DATA", "expected images [n,rows,cols] and labels [n]", { path: dir });
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new EdgeqError(
      "E_DATA",
      `${images.dims[0]} images but ${labels.dims[0]} labels`,
      { path: dir },
    );
  }
  const [total, rows, cols] = images.dims;
  const n = limit === undefined ? total : Math.min(total, Math.max(0, limit));
  return {
    n,
    rows,
    cols,
    pixels: images.data.subarray(0, n * rows * cols),
    labels: labels.data.subarray(0, n),
  };
}

/** Normalisation applied to pixels: x = (p/255 - mean) / std. */
export interface Normalise {
  mean?: number;
  std?: number;
}

/**
 * Images [start, start+count) as a float32 NCHW tensor [count, channels, rows, cols],
 * grey replicated to every channel.
 */
export function imageBatch(
  set: ImageSet,
  start: number,
  count: number,
  channels = 1,
  norm: Normalise = {},
): Tensor {
  const hw = set.rows * set.cols;
  const mean = norm.mean ?? 0, std = norm.std ?? 1;
  const data = new Float32Array(count * channels * hw);
  for (let i = 0; i < count; i++) {
    const src = (start + i) * hw;
    for (let c = 0; c < channels; c++) {
      const dst = (i * channels + c) * hw;
      for (let j = 0; j < hw; j++) data[dst + j] = (set.pixels[src + j] / 255 - mean) / std;
    }
  }
  return { dtype: "float32", shape: [count, channels, set.rows, set.cols], data };
}

/** Reads a NumPy .npy file (v1/v2/v3, little-endian f4/f8/i1/u1/i4/i8, C order). */
export function parseNpy(bytes: Uint8Array, path = "(npy)"): Tensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new EdgeqError("E_DATA", "not a .npy file (bad magic)", { path });
  }
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > bytes.length) {
    throw new EdgeqError("E_DATA", ".npy header truncated", { path });
  }
  const header = new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeStr === undefined) {
    throw new EdgeqError("E_DATA", `.npy header unreadable: ${header.trim()}`, { path });
  }
  if (fortran) throw new EdgeqError("E_DATA", "Fortran-order .npy is not supported", { path });
  const shape = shapeStr.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const kinds: Record<string, [Tensor["dtype"], number]> = {
    "<f4": ["float32", 4],
    "<f8": ["float64", 8],
    "|i1": ["int8", 1],
    "|u1": ["uint8", 1],
    "<i4": ["int32", 4],
    "<i8": ["int64", 8],
  };
  const k = kinds[descr];
  if (!k) throw new EdgeqError("E_DATA", `.npy dtype '${descr}' is not supported`, { path });
  const n = shape.reduce((a, d) => a * d, 1);
  const off = hstart + hlen;
  if (bytes.length - off !== n * k[1]) {
    throw new EdgeqError(
      "E_DATA",
      `.npy shape (${shape}) needs ${n * k[1]} data bytes, file has ${bytes.length - off}`,
      { path },
    );
  }
  const raw = bytes.slice(off).buffer;
  let data: Tensor["data"];
  switch (k[0]) {
    case "float32":
      data = new Float32Array(raw);
      break;
    case "float64":
      data = new Float64Array(raw);
      break;
    case "int8":
      data = new Int8Array(raw);
      break;
    case "uint8":
      data = new Uint8Array(raw);
      break;
    case "int32":
      data = new Int32Array(raw);
      break;
    default:
      data = Float64Array.from(new BigInt64Array(raw), Number);
  }
  return { dtype: k[0], shape, data };
}

/**
 * Decodes an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA) to
 * channel-last bytes; alpha is dropped.
 */
export function parsePng(bytes: Uint8Array, path = "(png)"): {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
} {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || sig.some((s, i) => bytes[i] !== s)) {
    throw new EdgeqError("E_DATA", "not a PNG file (bad signature)", { path });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8, width = 0, height = 0, depth = 0, ctype = 0, interlace = 0;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= bytes.length) {
    const len = dv.getUint32(pos, false);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (pos + 12 + len > bytes.length) {
      throw new EdgeqError("E_DATA", `PNG chunk ${type} truncated`, { path });
    }
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = dv.getUint32(pos + 8, false);
      height = dv.getUint32(pos + 12, false);
      depth = body[8];
      ctype = body[9];
      interlace = body[12];
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  const chanOf: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };
  const ch = chanOf[ctype];
  if (depth !== 8 || !ch || interlace !== 0) {
    throw new EdgeqError(
      "E_DATA",
      `PNG must be 8-bit, non-interlaced grey/RGB(A); got depth ${depth} type ${ctype}`,
      { path },
    );
  }
  if (width * height === 0 || width * height > 1 << 26) {
    throw new EdgeqError("E_DATA", `PNG size ${width}x${height} is not supported`, { path });
  }
  const joined = new Uint8Array(idat.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of idat) joined.set(c, (o += c.length) - c.length);
  let raw: Uint8Array;
  try {
    raw = unzlibSync(joined);
  } catch (e) {
    throw new EdgeqError("E_DATA", `corrupt PNG data: ${(e as Error).message}`, { path });
  }
  const stride = width * ch;
  if (raw.length !== height * (stride + 1)) {
    throw new EdgeqError("E_DATA", "PNG image data has the wrong length", { path });
  }
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = out.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= ch ? cur[x - ch] : 0, b = prev[x], c = x >= ch ? prev[x - ch] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (f !== 0) throw new EdgeqError("E_DATA", `PNG filter ${f} invalid`, { path });
      cur[x] = v & 255;
    }
  }
  const keep = ch === 2 ? 1 : ch === 4 ? 3 : ch;
  if (keep === ch) return { width, height, channels: ch, pixels: out };
  const px = new Uint8Array(width * height * keep);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < keep; c++) px[i * keep + c] = out[i * ch + c];
  }
  return { width, height, channels: keep, pixels: px };
}
