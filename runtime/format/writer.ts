/**
 * Writer of the packed model format v1 (`.eqp`); see FORMAT.md. The quantizer decides
 * what goes into `model` (its graph, quant params, bit-widths, gates); this module only
 * builds the container: header, section table, JSON manifest, 64-byte aligned data.
 *
 * @module
 */
import { deflateSync } from "fflate";
import { crc32 } from "../crc32.ts";
import { EdgeqError } from "../errors.ts";
import { bytesFor, type LayoutName, layoutOf, type LayoutValues, pack } from "./layouts.ts";
import {
  ALIGN,
  COMPRESSION,
  type Compression,
  ENTRY,
  FORMAT_VERSION,
  HEADER,
  MAGIC,
  SECTION_KIND,
  type SectionKind,
} from "./spec.ts";

/**
 * Who wrote the file: a name and anything else worth keeping (free-form JSON).
 *
 * @example
 * ```ts
 * import type { Producer } from "./writer.ts";
 * const p: Producer = { name: "edgeq-quantizer", version: "0.1", calib: 512 };
 * ```
 */
export interface Producer {
  /** Tool name, e.g. `"edgeq-quantizer"`. */
  name: string;
  /** Tool version. */
  version?: string;
  /** Anything else (command line, calibration set, date...). */
  [key: string]: unknown;
}

/**
 * One tensor to store: either `data` (values, packed here with `pack`) or `packed`
 * (bytes already in the layout, exactly `bytesFor(layout, shape)` long).
 *
 * @example
 * ```ts
 * import type { TensorInput } from "./writer.ts";
 * const w: TensorInput = { name: "fc.w", layout: "b1", shape: [2, 3], data: new Int8Array([1, -1, 1, 1, 1, -1]) };
 * ```
 */
export interface TensorInput {
  /** Unique, non-empty name (the manifest's key). */
  name: string;
  /** Packing layout (see layouts.ts). */
  layout: LayoutName;
  /** Logical shape; the last axis is the reduction axis for sub-byte layouts. */
  shape: number[];
  /** Values to pack. */
  data?: LayoutValues;
  /** Already packed bytes. */
  packed?: Uint8Array;
}

/**
 * What `writePacked` stores.
 *
 * @example
 * ```ts
 * import type { PackedInput } from "./writer.ts";
 * const input: PackedInput = { model: { nodes: [] }, producer: { name: "me" }, tensors: [] };
 * ```
 */
export interface PackedInput {
  /** The quantizer's model description (any JSON value; an object in practice). */
  model: unknown;
  /** Producer info. */
  producer: Producer;
  /** Tensors, stored in this order in the data section. */
  tensors: TensorInput[];
  /** Extra opaque blobs, one `extra` section each, named in the manifest. */
  extras?: { name: string; bytes: Uint8Array }[];
}

/**
 * Options of `writePacked`.
 *
 * @example
 * ```ts
 * import type { WriteOptions } from "./writer.ts";
 * const opts: WriteOptions = { compress: "manifest" };
 * ```
 */
export interface WriteOptions {
  /**
   * Deflate sections: `false`/omitted = none; `"manifest"` = the manifest only;
   * `true`/`"all"` = every section. A deflated data section is inflated into a fresh
   * buffer on reading, so its views are no longer zero-copy over the file bytes.
   */
  compress?: boolean | "manifest" | "all";
}

/**
 * One tensor row of the manifest's tensor table.
 *
 * @example
 * ```ts
 * import type { ManifestTensor } from "./writer.ts";
 * const t: ManifestTensor = {
 *   name: "w", dtype: "int8", layout: "i4", bits: 4, shape: [2, 3], offset: 0, length: 4,
 * };
 * ```
 */
export interface ManifestTensor {
  name: string;
  dtype: string;
  layout: LayoutName;
  bits: number;
  shape: number[];
  /** Byte offset inside the (uncompressed) data section; a multiple of 64. */
  offset: number;
  /** Byte length; equals `bytesFor(layout, shape)`. */
  length: number;
}

/**
 * The JSON manifest of a v1 file. Readers ignore keys they do not know.
 *
 * @example
 * ```ts
 * import type { Manifest } from "./writer.ts";
 * const m: Manifest = { producer: { name: "me" }, model: {}, tensors: [] };
 * ```
 */
export interface Manifest {
  producer: Producer;
  model: unknown;
  tensors: ManifestTensor[];
  extras?: { name: string; section: number }[];
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

interface PendingSection {
  kind: SectionKind;
  raw: Uint8Array;
  deflate: boolean;
  align: number;
}

/**
 * Builds a packed model file in memory. Tensors are packed (or checked, when given
 * `packed`) and laid out in order at 64-byte aligned offsets; the manifest records the
 * tensor table. Throws `E_USAGE` for bad arguments, `E_SHAPE`/`E_DATA` for values that do
 * not fit their shape/layout.
 *
 * @example
 * ```ts
 * import { writePacked } from "./writer.ts";
 * const bytes = writePacked({
 *   model: { graph: "..." },
 *   producer: { name: "example", version: "0.1" },
 *   tensors: [{ name: "w", layout: "i4", shape: [2, 3], data: new Int8Array([1, -2, 3, 7, -8, 0]) }],
 * }, { compress: "manifest" });
 * ```
 */
export function writePacked(input: PackedInput, options: WriteOptions = {}): Uint8Array {
  if (!input || typeof input !== "object") {
    throw new EdgeqError("E_USAGE", "writePacked needs { model, producer, tensors }");
  }
  const { producer, tensors, extras = [] } = input;
  if (!producer || typeof producer !== "object" || typeof producer.name !== "string") {
    throw new EdgeqError("E_USAGE", "producer must be an object with a string 'name'");
  }
  if (!Array.isArray(tensors)) throw new EdgeqError("E_USAGE", "tensors must be an array");
  const c = options.compress ?? false;
  if (![false, true, "manifest", "all"].includes(c)) {
    throw new EdgeqError("E_USAGE", `compress must be a boolean, "manifest" or "all", got ${c}`);
  }
  const deflateAll = c === true || c === "all";

  // Data section: tensors in order, each at a multiple of ALIGN.
  const names = new Set<string>();
  const table: ManifestTensor[] = [];
  const blobs: Uint8Array[] = [];
  let end = 0;
  for (const t of tensors) {
    if (!t || typeof t.name !== "string" || t.name === "") {
      throw new EdgeqError("E_USAGE", "every tensor needs a non-empty string name");
    }
    if (names.has(t.name)) {
      throw new EdgeqError("E_USAGE", "duplicate tensor name", { tensor: t.name });
    }
    names.add(t.name);
    let l, length, blob: Uint8Array;
    try {
      l = layoutOf(t.layout);
      length = bytesFor(l, t.shape);
      if (t.packed !== undefined) {
        if (!(t.packed instanceof Uint8Array) || t.data !== undefined) {
          throw new EdgeqError("E_USAGE", "give either data (values) or packed (Uint8Array)");
        }
        if (t.packed.length !== length) {
          throw new EdgeqError(
            "E_SHAPE",
            `packed ${t.layout} bytes are ${t.packed.length} long, shape [${t.shape}] needs ${length}`,
          );
        }
        blob = t.packed;
      } else {
        if (!ArrayBuffer.isView(t.data)) {
          throw new EdgeqError("E_USAGE", "tensor data must be a typed array");
        }
        blob = pack(l, t.data, t.shape);
      }
    } catch (e) {
      if (e instanceof EdgeqError && !e.where.tensor) {
        throw new EdgeqError(e.code, e.message, { ...e.where, tensor: t.name });
      }
      throw e;
    }
    const offset = alignUp(end, ALIGN);
    table.push({
      name: t.name,
      dtype: l.dtype,
      layout: l.name,
      bits: l.bits,
      shape: [...t.shape],
      offset,
      length,
    });
    blobs.push(blob);
    end = offset + length;
  }
  const data = new Uint8Array(end);
  for (let i = 0; i < blobs.length; i++) data.set(blobs[i], table[i].offset);

  // Sections: manifest, extras, data (data last, at an aligned file offset).
  const sections: PendingSection[] = [];
  const extraRefs: { name: string; section: number }[] = [];
  const extraNames = new Set<string>();
  for (const x of extras) {
    if (!x || typeof x.name !== "string" || x.name === "" || !(x.bytes instanceof Uint8Array)) {
      throw new EdgeqError(
        "E_USAGE",
        "extras must be { name: non-empty string, bytes: Uint8Array }",
      );
    }
    if (extraNames.has(x.name)) throw new EdgeqError("E_USAGE", `duplicate extra '${x.name}'`);
    extraNames.add(x.name);
    extraRefs.push({ name: x.name, section: 1 + extraRefs.length });
  }
  const manifest: Manifest = { producer, model: input.model ?? null, tensors: table };
  if (extraRefs.length) manifest.extras = extraRefs;
  let json: string;
  try {
    json = JSON.stringify(manifest);
  } catch (e) {
    throw new EdgeqError("E_USAGE", `model/producer is not JSON-serialisable: ${e}`);
  }
  sections.push({
    kind: "manifest",
    raw: new TextEncoder().encode(json),
    deflate: c !== false,
    align: 8,
  });
  for (const x of extras) {
    sections.push({ kind: "extra", raw: x.bytes, deflate: deflateAll, align: 8 });
  }
  sections.push({ kind: "data", raw: data, deflate: deflateAll, align: ALIGN });

  const stored = sections.map((s) => (s.deflate ? deflateSync(s.raw, { level: 6 }) : s.raw));
  const tableStart = HEADER.size;
  let pos = tableStart + sections.length * ENTRY.size;
  const offsets = sections.map((s, i) => {
    const off = alignUp(pos, s.align);
    pos = off + stored[i].length;
    return off;
  });
  const fileSize = pos;

  const out = new Uint8Array(fileSize);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < sections.length; i++) {
    const e = tableStart + i * ENTRY.size;
    const comp: Compression = sections[i].deflate ? "deflate" : "none";
    dv.setUint16(e + ENTRY.kind, SECTION_KIND[sections[i].kind], true);
    dv.setUint16(e + ENTRY.compression, COMPRESSION[comp], true);
    dv.setUint32(e + ENTRY.crc, crc32(stored[i]), true);
    dv.setBigUint64(e + ENTRY.offset, BigInt(offsets[i]), true);
    dv.setBigUint64(e + ENTRY.stored, BigInt(stored[i].length), true);
    dv.setBigUint64(e + ENTRY.raw, BigInt(sections[i].raw.length), true);
    out.set(stored[i], offsets[i]);
  }
  out.set(MAGIC, HEADER.magic);
  dv.setUint16(HEADER.major, FORMAT_VERSION.major, true);
  dv.setUint16(HEADER.minor, FORMAT_VERSION.minor, true);
  dv.setUint32(HEADER.flags, 0, true);
  dv.setUint32(HEADER.headerSize, HEADER.size, true);
  dv.setUint32(HEADER.sectionCount, sections.length, true);
  dv.setUint32(HEADER.entrySize, ENTRY.size, true);
  const tableBytes = out.subarray(tableStart, tableStart + sections.length * ENTRY.size);
  dv.setUint32(HEADER.tableCrc, crc32(tableBytes), true);
  dv.setBigUint64(HEADER.fileSize, BigInt(fileSize), true);
  dv.setUint32(HEADER.size - 4, crc32(out.subarray(0, HEADER.size - 4)), true);
  return out;
}

/**
 * Writes `bytes` to `path` atomically: into a fresh temporary file in the same directory
 * (flushed to disk), then renamed over `path`. On any failure the temporary file is
 * removed and `path` is left as it was (absent or the old file). Errors are `E_USAGE`
 * naming the path. Needs `--allow-write` for the directory.
 *
 * @example
 * ```ts
 * import { writePacked, writePackedFile } from "./writer.ts";
 * const bytes = writePacked({ model: {}, producer: { name: "example" }, tensors: [] });
 * await writePackedFile("/tmp/model.eqp", bytes);
 * ```
 */
export async function writePackedFile(path: string, bytes: Uint8Array): Promise<void> {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = path.slice(slash + 1);
  if (base === "") throw new EdgeqError("E_USAGE", "output path names a directory", { path });
  const tmp = `${dir}.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let created = false;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    created = true;
    try {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.syncData();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    if (created) {
      try {
        await Deno.remove(tmp);
      } catch {
        // already gone; nothing else to clean up
      }
    }
    throw new EdgeqError("E_USAGE", `cannot write packed file: ${(e as Error).message}`, {
      path,
    });
  }
}
