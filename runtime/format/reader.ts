/**
 * Reader of the packed model format v1 (`.eqp`); see FORMAT.md for the checks and their
 * order. Every declared size and offset is validated before anything is allocated or
 * viewed; tensors of an uncompressed data section are zero-copy typed-array views over
 * the input's ArrayBuffer.
 *
 * Errors: `E_FORMAT` (structure, naming what and where), `E_CHECKSUM` (naming the
 * section), `E_VERSION` (another major version). Nothing else escapes on bad bytes.
 *
 * @module
 */
import { inflateSync } from "fflate";
import { crc32 } from "../crc32.ts";
import { EdgeqError } from "../errors.ts";
import { bytesFor, isLayoutName, type LayoutName, LAYOUTS } from "./layouts.ts";
import {
  ALIGN,
  COMPRESSION,
  type Compression,
  ENTRY,
  FORMAT_VERSION,
  HEADER,
  LIMITS,
  MAGIC,
  SECTION_KIND,
} from "./spec.ts";
import type { Producer } from "./writer.ts";

/**
 * One section of the table, as read.
 *
 * @example
 * ```ts
 * import { readPacked, type SectionInfo } from "./reader.ts";
 * const s: SectionInfo = readPacked(await Deno.readFile("m.eqp")).sections[0];
 * s.kind; // "manifest"
 * ```
 */
export interface SectionInfo {
  /** Position in the section table. */
  index: number;
  /** Kind; `"unknown"` for a code this reader does not know (skipped). */
  kind: "manifest" | "data" | "extra" | "unknown";
  /** The kind code as stored. */
  kindCode: number;
  compression: Compression;
  /** File offset of the stored bytes. */
  offset: number;
  storedLength: number;
  rawLength: number;
  /** CRC-32 of the stored bytes (verified). */
  crc32: number;
}

/**
 * The zero-copy typed view of a tensor, per layout (see `LAYOUTS[..].view`).
 *
 * @example
 * ```ts
 * import { readPacked, type TensorView } from "./reader.ts";
 * const v: TensorView | undefined = readPacked(await Deno.readFile("m.eqp")).tensors.get("w")?.view;
 * ```
 */
export type TensorView = Float32Array | Int32Array | Int8Array | Uint8Array | Uint32Array;

/**
 * One tensor of a packed file.
 *
 * @example
 * ```ts
 * import { type PackedTensor, readPacked } from "./reader.ts";
 * const t: PackedTensor | undefined = readPacked(await Deno.readFile("m.eqp")).tensors.get("w");
 * t?.shape; // e.g. [64, 3, 3, 3]
 * ```
 */
export interface PackedTensor {
  name: string;
  layout: LayoutName;
  /** Element type once unpacked (manifest `dtype`). */
  dtype: string;
  bits: number;
  shape: number[];
  /** Byte offset inside the (uncompressed) data section. */
  offset: number;
  /** The packed bytes (exactly `bytesFor(layout, shape)`). */
  bytes: Uint8Array;
  /**
   * Typed view of the same bytes: Float32Array (f32), Int32Array (i32), Int8Array (i8),
   * Uint8Array (u8, i4, i2: packed), Uint32Array (b1: packed 32-bit words).
   */
  view: TensorView;
}

/**
 * Everything `readPacked` returns.
 *
 * @example
 * ```ts
 * import { type PackedFile, readPacked } from "./reader.ts";
 * const f: PackedFile = readPacked(await Deno.readFile("m.eqp"));
 * f.version; // { major: 1, minor: 0 }
 * ```
 */
export interface PackedFile {
  version: { major: number; minor: number };
  producer: Producer;
  model: unknown;
  tensors: Map<string, PackedTensor>;
  /** Named extra sections (raw bytes). */
  extras: Map<string, Uint8Array>;
  sections: SectionInfo[];
  /** Always true: a checksum mismatch throws instead. */
  checksumsOk: true;
  /** True when tensor views alias the input's ArrayBuffer (uncompressed, aligned input). */
  zeroCopy: boolean;
}

/**
 * Options of `readPacked`.
 *
 * @example
 * ```ts
 * import type { ReadOptions } from "./reader.ts";
 * const opts: ReadOptions = { maxInflatedBytes: 64 << 20, path: "m.eqp" };
 * ```
 */
export interface ReadOptions {
  /** Cap on the total bytes inflated from deflated sections (default 1 GiB). */
  maxInflatedBytes?: number;
  /** Name used in error messages (e.g. the file path). */
  path?: string;
}

const fail = (msg: string, path?: string, tensor?: string): never => {
  throw new EdgeqError("E_FORMAT", msg, { path, tensor });
};

/** Reads a little-endian u64 as a number, refusing values above 2^53 - 1. */
function u64(dv: DataView, at: number, what: string, path?: string): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getUint32(at + 4, true);
  if (hi > 0x1fffff) fail(`${what} at file offset ${at} is larger than 2^53`, path);
  return hi * 0x100000000 + lo;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Parses and validates a packed model file. Validation order (FORMAT.md "Reading"):
 * magic → major version → header size → header CRC → file size → section table bounds →
 * table CRC → every entry's kind/compression/ranges/overlaps → zero padding → section
 * CRCs → manifest (inflate, UTF-8, JSON, schema) → tensor table (layout, shape, length,
 * range, alignment, overlaps) → data (inflate) → views.
 *
 * Zero copy: for an uncompressed data section, `bytes`/`view` of every tensor alias the
 * input's ArrayBuffer. That needs the input to start 64-byte aligned in its buffer; when
 * `bytes.byteOffset % 64 !== 0` the file is copied once into a fresh (aligned) buffer.
 * A deflated data section is inflated into a fresh buffer (aligned, but a copy).
 *
 * @example
 * ```ts
 * import { readPacked } from "./reader.ts";
 * const file = readPacked(await Deno.readFile("model.eqp"));
 * const w = file.tensors.get("conv1.weight"); // { layout, shape, bytes, view, ... }
 * ```
 */
export function readPacked(bytes: Uint8Array, options: ReadOptions = {}): PackedFile {
  const path = options.path;
  if (!(bytes instanceof Uint8Array)) {
    throw new EdgeqError("E_USAGE", "readPacked needs a Uint8Array", { path });
  }
  const len = bytes.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  // 1. Magic and major version: fixed positions in every major.
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= len) fail(`truncated: ${len} bytes, not even the 8-byte magic`, path);
    if (bytes[i] !== MAGIC[i]) fail("not an edgeq packed file (bad magic at offset 0)", path);
  }
  if (len < HEADER.minor) fail(`truncated: ${len} bytes, header needs ${HEADER.size}`, path);
  const major = dv.getUint16(HEADER.major, true);
  if (major !== FORMAT_VERSION.major) {
    throw new EdgeqError(
      "E_VERSION",
      `packed format major version ${major} is not supported (this reader reads ` +
        `${FORMAT_VERSION.major}.x); re-pack the model with a matching quantizer or ` +
        `upgrade edgeq`,
      { path },
    );
  }
  if (len < HEADER.size) fail(`truncated: ${len} bytes, header needs ${HEADER.size}`, path);
  const minor = dv.getUint16(HEADER.minor, true);

  // 2. Header size and header CRC.
  const headerSize = dv.getUint32(HEADER.headerSize, true);
  if (headerSize < HEADER.size || headerSize > LIMITS.maxHeaderSize || headerSize % 4 !== 0) {
    fail(`header size ${headerSize} is invalid (multiple of 4 in 64..65536)`, path);
  }
  if (headerSize > len) fail(`truncated: header of ${headerSize} bytes, file ${len}`, path);
  const headerCrc = dv.getUint32(headerSize - 4, true);
  if (crc32(bytes.subarray(0, headerSize - 4)) !== headerCrc) {
    throw new EdgeqError("E_CHECKSUM", "header CRC-32 mismatch (section 'header')", { path });
  }

  // 3. File size.
  const fileSize = u64(dv, HEADER.fileSize, "file size", path);
  if (fileSize > len) fail(`truncated: header declares ${fileSize} bytes, got ${len}`, path);
  if (fileSize < len) fail(`${len - fileSize} trailing bytes after declared end ${fileSize}`, path);

  // 4. Section table bounds, then its CRC.
  const count = dv.getUint32(HEADER.sectionCount, true);
  const entrySize = dv.getUint32(HEADER.entrySize, true);
  if (count < 2 || count > LIMITS.maxSections) {
    fail(`section count ${count} is invalid (2..${LIMITS.maxSections})`, path);
  }
  if (entrySize < ENTRY.size || entrySize > LIMITS.maxEntrySize || entrySize % 8 !== 0) {
    fail(`section entry size ${entrySize} is invalid (multiple of 8 in 40..4096)`, path);
  }
  const tableEnd = headerSize + count * entrySize;
  if (tableEnd > fileSize) {
    fail(`section table (${count} x ${entrySize} bytes at ${headerSize}) runs past the end`, path);
  }
  if (crc32(bytes.subarray(headerSize, tableEnd)) !== dv.getUint32(HEADER.tableCrc, true)) {
    throw new EdgeqError("E_CHECKSUM", "section table CRC-32 mismatch (section 'table')", {
      path,
    });
  }

  // 5. Entries: codes, ranges, overlaps.
  const kindNames = new Map<number, SectionInfo["kind"]>(
    Object.entries(SECTION_KIND).map(([k, v]) => [v, k as SectionInfo["kind"]]),
  );
  const compNames = new Map<number, Compression>(
    Object.entries(COMPRESSION).map(([k, v]) => [v, k as Compression]),
  );
  const maxInflated = options.maxInflatedBytes ?? LIMITS.defaultMaxInflated;
  let inflatedTotal = 0;
  const sections: SectionInfo[] = [];
  for (let i = 0; i < count; i++) {
    const e = headerSize + i * entrySize;
    const where = `section ${i} (table entry at ${e})`;
    const kindCode = dv.getUint16(e + ENTRY.kind, true);
    const compCode = dv.getUint16(e + ENTRY.compression, true);
    const compression = compNames.get(compCode);
    if (compression === undefined) {
      const newer = minor > FORMAT_VERSION.minor;
      throw new EdgeqError(
        newer ? "E_VERSION" : "E_FORMAT",
        `${where}: unknown compression code ${compCode}` +
          (newer ? ` (file is ${major}.${minor}, reader ${major}.${FORMAT_VERSION.minor})` : ""),
        { path },
      );
    }
    const offset = u64(dv, e + ENTRY.offset, `${where} offset`, path);
    const storedLength = u64(dv, e + ENTRY.stored, `${where} stored length`, path);
    const rawLength = u64(dv, e + ENTRY.raw, `${where} raw length`, path);
    if (offset < tableEnd || offset > fileSize || storedLength > fileSize - offset) {
      fail(
        `${where}: bytes ${offset}..${offset + storedLength} lie outside ${tableEnd}..${fileSize}`,
        path,
      );
    }
    if (compression === "none" && rawLength !== storedLength) {
      fail(`${where}: uncompressed but raw length ${rawLength} != stored ${storedLength}`, path);
    }
    if (compression === "deflate") {
      if (rawLength > storedLength * LIMITS.maxDeflateRatio + 64) {
        fail(`${where}: raw length ${rawLength} impossible for ${storedLength} deflated`, path);
      }
      inflatedTotal += rawLength;
      if (inflatedTotal > maxInflated) {
        fail(`${where}: inflated sizes exceed the limit of ${maxInflated} bytes`, path);
      }
    }
    const kind = kindNames.get(kindCode) ?? "unknown";
    sections.push({
      index: i,
      kind,
      kindCode,
      compression,
      offset,
      storedLength,
      rawLength,
      crc32: dv.getUint32(e + ENTRY.crc, true),
    });
  }
  const byOffset = [...sections].sort((a, b) => a.offset - b.offset);
  let cursor = tableEnd;
  for (const s of byOffset) {
    if (s.offset < cursor) {
      fail(`section ${s.index} at ${s.offset} overlaps the previous one (ends ${cursor})`, path);
    }
    for (let p = cursor; p < s.offset; p++) {
      if (bytes[p] !== 0) fail(`non-zero padding byte at file offset ${p}`, path);
    }
    cursor = s.offset + s.storedLength;
  }
  for (let p = cursor; p < fileSize; p++) {
    if (bytes[p] !== 0) fail(`non-zero padding byte at file offset ${p}`, path);
  }
  const manifests = sections.filter((s) => s.kind === "manifest");
  const datas = sections.filter((s) => s.kind === "data");
  if (manifests.length !== 1) fail(`${manifests.length} manifest sections (need 1)`, path);
  if (datas.length !== 1) fail(`${datas.length} data sections (need 1)`, path);
  const ms = manifests[0], ds = datas[0];
  if (ds.compression === "none" && ds.offset % ALIGN !== 0) {
    fail(`data section ${ds.index} at file offset ${ds.offset} is not ${ALIGN}-byte aligned`, path);
  }

  // 6. Section CRCs (all sections, known or not).
  const stored = (s: SectionInfo) => bytes.subarray(s.offset, s.offset + s.storedLength);
  for (const s of sections) {
    if (crc32(stored(s)) !== s.crc32) {
      throw new EdgeqError(
        "E_CHECKSUM",
        `CRC-32 mismatch in ${s.kind} section ${s.index} (file offset ${s.offset})`,
        { path },
      );
    }
  }

  // 7. Manifest.
  const manifestBytes = inflated(ms, stored(ms), path);
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(manifestBytes));
  } catch (e) {
    fail(`manifest section ${ms.index} is not UTF-8 JSON: ${(e as Error).message}`, path);
  }
  if (!isObject(manifest)) fail("manifest is not a JSON object", path);
  const m = manifest as Record<string, unknown>;
  if (!isObject(m.producer) || typeof m.producer.name !== "string") {
    fail("manifest 'producer' must be an object with a string 'name'", path);
  }
  if (!("model" in m)) fail("manifest has no 'model'", path);
  if (!Array.isArray(m.tensors)) fail("manifest 'tensors' must be an array", path);

  // 8. Tensor table, checked against the data section's raw length.
  const dataLen = ds.rawLength;
  const rows: Omit<PackedTensor, "bytes" | "view">[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < (m.tensors as unknown[]).length; i++) {
    rows.push(checkTensor((m.tensors as unknown[])[i], i, seen, dataLen, minor, path));
  }
  const sorted = [...rows].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + bytesFor(prev.layout, prev.shape)) {
      fail(`tensor overlaps tensor '${prev.name}' in the data section`, path, sorted[i].name);
    }
  }

  // Extras.
  const extras = new Map<string, Uint8Array>();
  if (m.extras !== undefined) {
    if (!Array.isArray(m.extras)) fail("manifest 'extras' must be an array", path);
    for (const x of m.extras as unknown[]) {
      if (!isObject(x) || typeof x.name !== "string" || extras.has(x.name)) {
        fail("manifest 'extras' entries need unique string names", path);
      }
      const { name, section } = x as { name: string; section: unknown };
      if (
        typeof section !== "number" || !Number.isInteger(section) || section < 0 ||
        section >= count || sections[section].kind !== "extra"
      ) {
        fail(`extra '${name}' refers to section ${section}, which is not an extra section`, path);
      }
      const s = sections[section as number];
      extras.set(name, inflated(s, stored(s), path));
    }
  }

  // 9. Data: zero-copy over the input (copied once if misaligned), or inflated.
  let data: Uint8Array;
  let zeroCopy = false;
  if (ds.compression === "none") {
    let base = bytes;
    if (bytes.byteOffset % ALIGN !== 0) base = bytes.slice();
    else zeroCopy = true;
    data = base.subarray(ds.offset, ds.offset + ds.rawLength);
  } else {
    data = inflated(ds, stored(ds), path);
  }
  const tensors = new Map<string, PackedTensor>();
  for (const r of rows) {
    const length = bytesFor(r.layout, r.shape);
    const tb = data.subarray(r.offset, r.offset + length);
    tensors.set(r.name, { ...r, bytes: tb, view: viewOf(r.layout, tb) });
  }
  return {
    version: { major, minor },
    producer: m.producer as Producer,
    model: m.model,
    tensors,
    extras,
    sections,
    checksumsOk: true,
    zeroCopy,
  };
}

/** Raw bytes of a section: `stored` itself, or inflated into a fresh exact-size buffer. */
function inflated(s: SectionInfo, stored: Uint8Array, path?: string): Uint8Array {
  if (s.compression === "none") return stored;
  // One spare byte: an over-long stream fills it and is caught below.
  const out = new Uint8Array(s.rawLength + 1);
  let got: Uint8Array;
  try {
    got = inflateSync(stored, { out });
  } catch (e) {
    return fail(
      `${s.kind} section ${s.index}: corrupt deflate stream (${(e as Error).message})`,
      path,
    );
  }
  if (got.length !== s.rawLength) {
    fail(
      `${s.kind} section ${s.index}: inflates to ${
        got.length > s.rawLength ? "more than" : got.length
      } bytes, declared ${s.rawLength}`,
      path,
    );
  }
  return out.subarray(0, s.rawLength);
}

function checkTensor(
  t: unknown,
  i: number,
  seen: Set<string>,
  dataLen: number,
  minor: number,
  path?: string,
): Omit<PackedTensor, "bytes" | "view"> {
  if (!isObject(t)) fail(`manifest tensor #${i} is not an object`, path);
  const r = t as Record<string, unknown>;
  const name = r.name;
  if (typeof name !== "string" || name === "") fail(`manifest tensor #${i} has no name`, path);
  const n = name as string;
  const bad = (msg: string): never => fail(`${msg}`, path, n);
  if (seen.has(n)) bad("duplicate tensor name in the manifest");
  seen.add(n);
  if (!isLayoutName(r.layout)) {
    if (typeof r.layout === "string" && minor > FORMAT_VERSION.minor) {
      throw new EdgeqError(
        "E_VERSION",
        `layout '${r.layout}' is unknown to this reader (file 1.${minor}, reader ` +
          `1.${FORMAT_VERSION.minor}); upgrade edgeq`,
        { path, tensor: n },
      );
    }
    bad(`unknown layout ${JSON.stringify(r.layout)}`);
  }
  const l = LAYOUTS[r.layout as LayoutName];
  if (r.dtype !== l.dtype) bad(`dtype ${JSON.stringify(r.dtype)} != ${l.dtype} of ${l.name}`);
  if (r.bits !== l.bits) bad(`bits ${JSON.stringify(r.bits)} != ${l.bits} of ${l.name}`);
  const shape = r.shape;
  if (!Array.isArray(shape) || shape.length > LIMITS.maxRank) {
    bad(`shape must be an array of at most ${LIMITS.maxRank} dimensions`);
  }
  for (const d of shape as unknown[]) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      bad(`shape ${JSON.stringify(shape)} has a bad dimension`);
    }
  }
  let need = 0;
  try {
    need = bytesFor(l, shape as number[]);
  } catch (e) {
    bad(`shape ${JSON.stringify(shape)}: ${(e as Error).message}`);
  }
  const { offset, length } = r;
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    bad(`offset ${JSON.stringify(offset)} is not a non-negative integer`);
  }
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    bad(`length ${JSON.stringify(length)} is not a non-negative integer`);
  }
  const off = offset as number, len = length as number;
  if (len !== need) {
    bad(`length ${len} != ${need} bytes that layout ${l.name} needs for shape [${shape}]`);
  }
  if (off % ALIGN !== 0) bad(`data offset ${off} is not ${ALIGN}-byte aligned`);
  if (off > dataLen || len > dataLen - off) {
    bad(`bytes ${off}..${off + len} lie outside the data section (${dataLen} bytes)`);
  }
  return {
    name: n,
    layout: l.name,
    dtype: l.dtype,
    bits: l.bits,
    shape: [...(shape as number[])],
    offset: off,
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function viewOf(layout: LayoutName, b: Uint8Array): TensorView {
  const v = LAYOUTS[layout].view;
  if (!LITTLE_ENDIAN && v !== "Int8Array" && v !== "Uint8Array") {
    throw new EdgeqError("E_BACKEND", "multi-byte tensor views need a little-endian host");
  }
  switch (v) {
    case "Float32Array":
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case "Int32Array":
      return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case "Int8Array":
      return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
    case "Uint32Array":
      return new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    default:
      return b;
  }
}
