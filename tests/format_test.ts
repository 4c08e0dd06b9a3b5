// Packed model format v1: layouts, writer, reader, robustness, atomic file writes.
// Run: deno test --allow-read --allow-write=/tmp tests/format_test.ts
import assert from "node:assert/strict";
import { EdgeqError } from "../runtime/errors.ts";
import { crc32 } from "../runtime/crc32.ts";
import {
  bytesFor,
  type LayoutName,
  LAYOUTS,
  type LayoutValues,
  pack,
  rowsOf,
  unpack,
} from "../runtime/format/layouts.ts";
import { type PackedInput, writePacked, writePackedFile } from "../runtime/format/writer.ts";
import { readPacked } from "../runtime/format/reader.ts";
import { ALIGN, ENTRY, HEADER } from "../runtime/format/spec.ts";

const ALL: LayoutName[] = ["f32", "i32", "i8", "u8", "i4", "i2", "b1"];
const SHAPES: number[][] = [[5, 7], [3, 1, 33], [67], [2, 32], [1], []];

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random non-zero values that fit `layout`. */
function randomValues(layout: LayoutName, n: number, r: () => number): LayoutValues {
  const l = LAYOUTS[layout];
  if (layout === "f32") {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (r() - 0.5) * 1000 || 1;
    return out;
  }
  const out = layout === "i32" ? new Int32Array(n) : layout === "u8" ? new Uint8Array(n) : (
    new Int8Array(n)
  );
  for (let i = 0; i < n; i++) {
    let v = 0;
    while (v === 0) v = l.min + Math.floor(r() * (l.max - l.min + 1));
    out[i] = v;
  }
  return out;
}

function expectError(fn: () => unknown, codes: string[], what = ""): EdgeqError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof EdgeqError)) {
      throw new Error(`${what}: expected EdgeqError, got ${(e as Error)?.name}: ${e}`);
    }
    assert.ok(codes.includes(e.code), `${what}: code ${e.code} not in ${codes}: ${e.message}`);
    return e;
  }
  throw new Error(`${what}: expected an EdgeqError (${codes}), nothing thrown`);
}

function sampleInput(seed = 1): PackedInput {
  const r = rng(seed);
  const shapes = [[5, 7], [3, 1, 33], [67]];
  const tensors = [];
  for (const layout of ALL) {
    for (const shape of shapes) {
      tensors.push({
        name: `${layout}_${shape.join("x")}`,
        layout,
        shape,
        data: randomValues(layout, rowsOf(shape).count, r),
      });
    }
  }
  return {
    model: { graph: { nodes: [{ op: "Conv", inputs: ["x", "w"] }] }, bits: { conv1: 4 } },
    producer: { name: "format_test", version: "1.0" },
    tensors,
  };
}

/** A small file (a few tensors) for the exhaustive truncation / bit-flip loops. */
function smallInput(): PackedInput {
  const r = rng(7);
  return {
    model: { kind: "tiny" },
    producer: { name: "t" },
    tensors: [
      { name: "a", layout: "i4", shape: [3, 5], data: randomValues("i4", 15, r) },
      { name: "b", layout: "f32", shape: [4], data: randomValues("f32", 4, r) },
      { name: "c", layout: "b1", shape: [2, 33], data: randomValues("b1", 66, r) },
    ],
  };
}

/** Recomputes every CRC (sections, table, header) of a possibly tampered file. */
function refix(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < HEADER.size) return b;
  const hs = dv.getUint32(HEADER.headerSize, true);
  const n = dv.getUint32(HEADER.sectionCount, true);
  const es = dv.getUint32(HEADER.entrySize, true);
  if (hs < HEADER.size || hs > b.length) return b;
  for (let i = 0; i < n && i < 64; i++) {
    const e = hs + i * es;
    if (es < ENTRY.size || e + ENTRY.size > b.length) break;
    const off = Number(dv.getBigUint64(e + ENTRY.offset, true));
    const len = Number(dv.getBigUint64(e + ENTRY.stored, true));
    if (off + len <= b.length) dv.setUint32(e + ENTRY.crc, crc32(b.subarray(off, off + len)), true);
  }
  const tEnd = Math.min(b.length, hs + n * es);
  if (tEnd >= hs) dv.setUint32(HEADER.tableCrc, crc32(b.subarray(hs, tEnd)), true);
  dv.setUint32(hs - 4, crc32(b.subarray(0, hs - 4)), true);
  return b;
}

function sectionOf(bytes: Uint8Array, kind: "manifest" | "data") {
  return readPacked(bytes).sections.find((s) => s.kind === kind)!;
}

/** Replaces `from` by `to` (same length) in the uncompressed manifest, fixing CRCs. */
function editManifest(bytes: Uint8Array, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  const s = sectionOf(bytes, "manifest");
  const out = bytes.slice();
  const text = new TextDecoder().decode(out.subarray(s.offset, s.offset + s.storedLength));
  const at = text.indexOf(from);
  assert.ok(at >= 0, `'${from}' not in manifest`);
  out.set(new TextEncoder().encode(to), s.offset + at);
  return refix(out);
}

/**
 * Rebuilds an uncompressed file with `manifest` (any text) in place of its manifest,
 * moving the data section to the next aligned offset; CRCs fixed. Test-only.
 */
function withManifest(bytes: Uint8Array, manifest: string): Uint8Array {
  const f = readPacked(bytes);
  assert.deepEqual(f.sections.map((s) => s.kind), ["manifest", "data"]);
  const [ms, ds] = f.sections;
  const text = new TextEncoder().encode(manifest);
  const dataOff = Math.ceil((ms.offset + text.length) / ALIGN) * ALIGN;
  const out = new Uint8Array(dataOff + ds.storedLength);
  out.set(bytes.subarray(0, ms.offset));
  out.set(text, ms.offset);
  out.set(bytes.subarray(ds.offset, ds.offset + ds.storedLength), dataOff);
  const dv = new DataView(out.buffer);
  const e0 = HEADER.size, e1 = HEADER.size + ENTRY.size;
  dv.setBigUint64(e0 + ENTRY.stored, BigInt(text.length), true);
  dv.setBigUint64(e0 + ENTRY.raw, BigInt(text.length), true);
  dv.setBigUint64(e1 + ENTRY.offset, BigInt(dataOff), true);
  dv.setBigUint64(HEADER.fileSize, BigInt(out.length), true);
  return refix(out);
}

// ---------------------------------------------------------------------------------------
// Layouts

Deno.test("layouts: bytesFor follows the row rule", () => {
  assert.equal(bytesFor("f32", [5, 7]), 140);
  assert.equal(bytesFor("i32", [67]), 268);
  assert.equal(bytesFor("i8", [3, 1, 33]), 99);
  assert.equal(bytesFor("u8", []), 1);
  assert.equal(bytesFor("i4", [5, 7]), 5 * 4);
  assert.equal(bytesFor("i4", [3, 1, 33]), 3 * 17);
  assert.equal(bytesFor("i2", [5, 7]), 5 * 2);
  assert.equal(bytesFor("i2", [67]), 17);
  assert.equal(bytesFor("b1", [5, 7]), 5 * 4);
  assert.equal(bytesFor("b1", [3, 1, 33]), 3 * 8);
  assert.equal(bytesFor("b1", [2, 32]), 8);
  assert.equal(bytesFor("b1", [4, 0]), 0);
  assert.equal(bytesFor("i4", [0, 9]), 0);
  expectError(() => bytesFor("i4", [2, -1]), ["E_SHAPE"]);
  expectError(() => bytesFor("i4", [2.5]), ["E_SHAPE"]);
  expectError(() => bytesFor("f32", [2 ** 30, 2 ** 30, 2 ** 30]), ["E_SHAPE"]);
  expectError(() => bytesFor("q4" as LayoutName, [1]), ["E_USAGE"]);
});

Deno.test("layouts: known bit patterns", () => {
  assert.deepEqual([...pack("i4", new Int8Array([1, -1, 7]), [3])], [0xf1, 0x07]);
  assert.deepEqual([...pack("i4", new Int8Array([-8, 0, 1, 2]), [2, 2])], [0x08, 0x21]);
  assert.deepEqual([...pack("i2", new Int8Array([1, -1, -2, 0, 1]), [5])], [0x2d, 0x01]);
  assert.deepEqual([...pack("b1", new Int8Array([1, -1, 1]), [3])], [0x05, 0, 0, 0]);
  // b1: bit j of the row's little-endian word; row 2 starts on the next word.
  const b = pack("b1", new Int8Array([...new Array(33).fill(-1), 1]), [2, 17]);
  assert.equal(b.length, 8);
  assert.deepEqual([...b], [0, 0, 0, 0, 0x00, 0x00, 0x01, 0]);
  assert.deepEqual([...pack("i32", new Int32Array([-2]), [1])], [0xfe, 0xff, 0xff, 0xff]);
  assert.deepEqual([...pack("f32", new Float32Array([1]), [1])], [0, 0, 0x80, 0x3f]);
});

Deno.test("layouts: pack/unpack round trip is exact for every layout and odd shape", () => {
  const r = rng(42);
  for (const layout of ALL) {
    for (const shape of SHAPES) {
      const n = rowsOf(shape).count;
      const v = randomValues(layout, n, r);
      const packed = pack(layout, v, shape);
      assert.equal(packed.length, bytesFor(layout, shape), `${layout} ${shape}`);
      const back = unpack(layout, packed, shape);
      assert.equal(
        back.constructor.name,
        LAYOUTS[layout].dtype === "float32" ? "Float32Array" : (
          { int32: "Int32Array", int8: "Int8Array", uint8: "Uint8Array" }[LAYOUTS[layout].dtype]
        ),
      );
      assert.deepEqual([...back], [...v], `${layout} ${shape}`);
    }
  }
});

Deno.test("layouts: values out of range and wrong lengths are errors", () => {
  expectError(() => pack("i4", new Int8Array([8]), [1]), ["E_DATA"]);
  expectError(() => pack("i4", new Int8Array([-9]), [1]), ["E_DATA"]);
  expectError(() => pack("i2", new Int8Array([2]), [1]), ["E_DATA"]);
  expectError(() => pack("i2", new Int8Array([-3]), [1]), ["E_DATA"]);
  expectError(() => pack("b1", new Int8Array([0]), [1]), ["E_DATA"]);
  expectError(() => pack("b1", new Int8Array([2]), [1]), ["E_DATA"]);
  expectError(() => pack("i8", new Float32Array([1.5]), [1]), ["E_DATA"]);
  expectError(() => pack("i8", new Int32Array([128]), [1]), ["E_DATA"]);
  expectError(() => pack("u8", new Int8Array([-1]), [1]), ["E_DATA"]);
  expectError(() => pack("i32", new Float32Array([2 ** 31]), [1]), ["E_DATA"]);
  expectError(() => pack("i4", new Int8Array(5), [2, 3]), ["E_SHAPE"]);
  expectError(() => unpack("i4", new Uint8Array(3), [2, 3]), ["E_FORMAT"]);
  const e = expectError(() => pack("i4", new Int8Array([1, 2, 99]), [3]), ["E_DATA"]);
  assert.match(e.message, /value 99 at index 2/);
});

// ---------------------------------------------------------------------------------------
// Writer + reader

function checkRoundTrip(input: PackedInput, bytes: Uint8Array) {
  const f = readPacked(bytes);
  assert.equal(f.checksumsOk, true);
  assert.deepEqual(f.version, { major: 1, minor: 0 });
  assert.deepEqual(f.model, input.model);
  assert.deepEqual(f.producer, input.producer);
  assert.equal(f.tensors.size, input.tensors.length);
  for (const t of input.tensors) {
    const got = f.tensors.get(t.name)!;
    assert.ok(got, t.name);
    assert.equal(got.layout, t.layout);
    assert.deepEqual(got.shape, t.shape);
    assert.equal(got.bytes.length, bytesFor(t.layout, t.shape));
    assert.deepEqual([...unpack(t.layout, got.bytes, t.shape)], [...t.data!], t.name);
    assert.equal(got.view.constructor.name, LAYOUTS[t.layout].view);
    assert.equal(got.view.buffer, got.bytes.buffer);
    assert.equal(got.view.byteOffset, got.bytes.byteOffset);
    if (["f32", "i32", "i8", "u8"].includes(t.layout)) {
      assert.deepEqual([...got.view], [...t.data!], `${t.name} view`);
    }
  }
  return f;
}

Deno.test("reader: uncompressed round trip is zero-copy and 64-byte aligned", () => {
  const input = sampleInput();
  const bytes = writePacked(input);
  assert.equal(bytes.byteOffset, 0);
  const f = checkRoundTrip(input, bytes);
  assert.equal(f.zeroCopy, true);
  const data = f.sections.find((s) => s.kind === "data")!;
  assert.equal(data.offset % ALIGN, 0);
  for (const t of f.tensors.values()) {
    assert.equal(t.view.buffer, bytes.buffer, `${t.name} aliases the file`);
    assert.equal(t.bytes.buffer, bytes.buffer);
    assert.equal((t.view.byteOffset - bytes.byteOffset) % ALIGN, 0, `${t.name} file offset`);
    assert.equal(t.offset % ALIGN, 0);
    assert.equal(t.view.byteOffset - bytes.byteOffset, data.offset + t.offset);
  }
  // b1 tensors are 32-bit words: bit j of word w is element 32w + j of the row.
  const b1 = f.tensors.get("b1_67")!;
  const src = input.tensors.find((t) => t.name === "b1_67")!.data!;
  for (let j = 0; j < 67; j++) {
    const bit = ((b1.view as Uint32Array)[j >> 5] >>> (j & 31)) & 1;
    assert.equal(bit ? 1 : -1, src[j]);
  }
});

Deno.test("reader: input not 64-aligned in its buffer is copied once into an aligned one", () => {
  const input = sampleInput(3);
  const bytes = writePacked(input);
  const buf = new Uint8Array(bytes.length + 8);
  buf.set(bytes, 8);
  const shifted = buf.subarray(8);
  const f = checkRoundTrip(input, shifted);
  assert.equal(f.zeroCopy, false);
  for (const t of f.tensors.values()) {
    assert.notEqual(t.view.buffer, buf.buffer);
    assert.equal(t.view.byteOffset % ALIGN, 0);
  }
});

Deno.test("reader: compressed round trips (manifest only, all)", () => {
  const input = sampleInput(5);
  const plain = writePacked(input);
  for (const compress of ["manifest", "all", true] as const) {
    const bytes = writePacked(input, { compress });
    const f = checkRoundTrip(input, bytes);
    const m = f.sections.find((s) => s.kind === "manifest")!;
    const d = f.sections.find((s) => s.kind === "data")!;
    assert.equal(m.compression, "deflate");
    assert.ok(m.storedLength < m.rawLength);
    assert.equal(d.compression, compress === "manifest" ? "none" : "deflate");
    assert.equal(f.zeroCopy, compress === "manifest");
    if (compress !== "manifest") {
      for (const t of f.tensors.values()) {
        assert.notEqual(t.view.buffer, bytes.buffer);
        assert.equal(t.view.byteOffset % ALIGN, 0);
      }
    }
    assert.ok(bytes.length < plain.length, `${compress} is smaller`);
  }
});

Deno.test("reader: extras and empty files round trip", () => {
  const extra = new Uint8Array([1, 2, 3, 4, 5]);
  for (const compress of [false, true]) {
    const bytes = writePacked({
      model: null,
      producer: { name: "x", note: "extras" },
      tensors: [],
      extras: [{ name: "calib-stats", bytes: extra }, { name: "empty", bytes: new Uint8Array() }],
    }, { compress });
    const f = readPacked(bytes);
    assert.equal(f.tensors.size, 0);
    assert.equal(f.model, null);
    assert.deepEqual([...f.extras.get("calib-stats")!], [...extra]);
    assert.equal(f.extras.get("empty")!.length, 0);
    assert.deepEqual(f.sections.map((s) => s.kind), ["manifest", "extra", "extra", "data"]);
  }
});

Deno.test("writer: bad input is an EdgeqError naming the tensor", () => {
  const base = { model: {}, producer: { name: "p" } };
  const dup = {
    ...base,
    tensors: [
      { name: "a", layout: "i8" as const, shape: [1], data: new Int8Array(1) },
      { name: "a", layout: "i8" as const, shape: [1], data: new Int8Array(1) },
    ],
  };
  expectError(() => writePacked(dup), ["E_USAGE"]);
  const big = {
    ...base,
    tensors: [{ name: "w", layout: "i4" as const, shape: [2], data: new Int8Array([1, 9]) }],
  };
  assert.equal(expectError(() => writePacked(big), ["E_DATA"]).where.tensor, "w");
  const lay = {
    ...base,
    tensors: [{ name: "w", layout: "q4" as LayoutName, shape: [2], data: new Int8Array(2) }],
  };
  expectError(() => writePacked(lay), ["E_USAGE"]);
  const packed = {
    ...base,
    tensors: [{ name: "w", layout: "i4" as const, shape: [3, 3], packed: new Uint8Array(5) }],
  };
  expectError(() => writePacked(packed), ["E_SHAPE"]);
  const ok = {
    ...base,
    tensors: [{ name: "w", layout: "i4" as const, shape: [3, 3], packed: new Uint8Array(6) }],
  };
  assert.equal(readPacked(writePacked(ok)).tensors.get("w")!.bytes.length, 6);
  expectError(() => writePacked({ ...base, model: { n: 1n }, tensors: [] }), ["E_USAGE"]);
});

// ---------------------------------------------------------------------------------------
// Versions

Deno.test("versions: unknown major → E_VERSION, newer minor accepted", () => {
  const bytes = writePacked(smallInput());
  for (const major of [0, 2, 65535]) {
    const b = bytes.slice();
    new DataView(b.buffer).setUint16(HEADER.major, major, true);
    const e = expectError(() => readPacked(refix(b)), ["E_VERSION"]);
    assert.match(e.message, new RegExp(`major version ${major}.*1\\.x`));
    // Without fixing the CRC as well: the version check comes first.
    const raw = bytes.slice();
    new DataView(raw.buffer).setUint16(HEADER.major, major, true);
    expectError(() => readPacked(raw), ["E_VERSION"]);
  }
  const b = bytes.slice();
  new DataView(b.buffer).setUint16(HEADER.minor, 7, true);
  assert.deepEqual(readPacked(refix(b)).version, { major: 1, minor: 7 });
});

Deno.test("versions: a longer header and longer table entries (later minor) are read", () => {
  const bytes = writePacked(smallInput());
  const dv0 = new DataView(bytes.buffer);
  const n = dv0.getUint32(HEADER.sectionCount, true);
  const grow = 64; // header +64, each entry +8 → sections move by 64 + 8n, then realign
  const shift = Math.ceil((grow + 8 * n) / ALIGN) * ALIGN;
  const out = new Uint8Array(bytes.length + shift);
  const dv = new DataView(out.buffer);
  out.set(bytes.subarray(0, HEADER.size - 4));
  dv.setUint16(HEADER.minor, 3, true);
  dv.setUint32(HEADER.headerSize, HEADER.size + grow, true);
  dv.setUint32(HEADER.entrySize, ENTRY.size + 8, true);
  dv.setBigUint64(HEADER.fileSize, BigInt(out.length), true);
  const tableEnd0 = HEADER.size + n * ENTRY.size;
  for (let i = 0; i < n; i++) {
    const from = HEADER.size + i * ENTRY.size, to = HEADER.size + grow + i * (ENTRY.size + 8);
    out.set(bytes.subarray(from, from + ENTRY.size), to);
    out[to + ENTRY.size] = 0xaa; // unknown field of a future minor: ignored
    const off = dv.getBigUint64(to + ENTRY.offset, true);
    dv.setBigUint64(to + ENTRY.offset, off + BigInt(shift), true);
  }
  out.set(bytes.subarray(tableEnd0), tableEnd0 + shift);
  const f = readPacked(refix(out));
  assert.deepEqual(f.version, { major: 1, minor: 3 });
  assert.deepEqual(
    [...f.tensors.get("a")!.bytes],
    [...readPacked(bytes).tensors.get("a")!.bytes],
  );
});

Deno.test("versions: unknown layout is E_VERSION from a newer minor, E_FORMAT otherwise", () => {
  const bytes = writePacked(smallInput());
  const b = editManifest(bytes, '"layout":"i4"', '"layout":"q4"');
  expectError(() => readPacked(b), ["E_FORMAT"]);
  new DataView(b.buffer).setUint16(HEADER.minor, 1, true);
  const e = expectError(() => readPacked(refix(b)), ["E_VERSION"]);
  assert.equal(e.where.tensor, "a");
});

// ---------------------------------------------------------------------------------------
// Robustness

function allowedCodes(e: unknown, what: string): string {
  if (!(e instanceof EdgeqError)) {
    throw new Error(`${what}: not an EdgeqError: ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  assert.ok(["E_FORMAT", "E_CHECKSUM", "E_VERSION"].includes(e.code), `${what}: ${e.code}`);
  return e.code;
}

Deno.test("robustness: every truncation is an E_FORMAT/E_CHECKSUM error", () => {
  for (const compress of [false, true]) {
    const bytes = writePacked(smallInput(), { compress });
    for (let n = 0; n < bytes.length; n++) {
      expectError(() => readPacked(bytes.slice(0, n)), ["E_FORMAT", "E_CHECKSUM"], `len ${n}`);
    }
    // Trailing garbage is refused too.
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectError(() => readPacked(longer), ["E_FORMAT"]);
  }
});

Deno.test("robustness: single-bit flips anywhere are detected", () => {
  for (const compress of [false, true]) {
    const bytes = writePacked(smallInput(), { compress });
    const f = readPacked(bytes);
    const data = f.sections.find((s) => s.kind === "data")!;
    const tableEnd = HEADER.size + f.sections.length * ENTRY.size;
    let flips = 0;
    for (let p = 0; p < bytes.length; p++) {
      // Every bit of the header and table; one rotating bit of every other byte.
      const bits = p < tableEnd ? [0, 1, 2, 3, 4, 5, 6, 7] : [p % 8];
      for (const bit of bits) {
        const b = bytes.slice();
        b[p] ^= 1 << bit;
        flips++;
        let code = "";
        try {
          readPacked(b);
        } catch (e) {
          code = allowedCodes(e, `flip byte ${p} bit ${bit}`);
        }
        assert.ok(code !== "", `flip byte ${p} bit ${bit} went unnoticed`);
        if (!compress && p >= data.offset && p < data.offset + data.storedLength) {
          assert.equal(code, "E_CHECKSUM", `flip in tensor data at ${p}`);
        }
      }
    }
    assert.ok(flips > 1000);
  }
});

Deno.test("robustness: tampered files with valid CRCs never throw a raw error", () => {
  const r = rng(99);
  for (const compress of [false, "manifest", true] as const) {
    const bytes = writePacked(smallInput(), { compress });
    const tableEnd = HEADER.size + 3 * ENTRY.size;
    for (let trial = 0; trial < 3000; trial++) {
      const b = bytes.slice();
      const k = 1 + Math.floor(r() * 4);
      for (let j = 0; j < k; j++) {
        const p = trial % 2 ? Math.floor(r() * tableEnd) : Math.floor(r() * b.length);
        b[p] = r() < 0.3 ? 0xff : r() < 0.5 ? 0 : Math.floor(r() * 256);
      }
      try {
        readPacked(refix(b));
      } catch (e) {
        allowedCodes(e, `trial ${trial}`);
      }
    }
  }
});

Deno.test("robustness: structurally fuzzed manifests (valid CRCs) give E_FORMAT only", () => {
  const bytes = writePacked(smallInput());
  const base = JSON.parse(new TextDecoder().decode(readPackedManifest(bytes)));
  // Sanity: an unchanged manifest rebuilds to a readable file.
  assert.equal(readPacked(withManifest(bytes, JSON.stringify(base))).tensors.size, 3);
  const r = rng(2024);
  const weird: unknown[] = [
    -1,
    0,
    1,
    63,
    64,
    1e300,
    -1e300,
    2 ** 53,
    2 ** 53 + 2,
    0.5,
    NaN,
    "",
    "64",
    null,
    true,
    [],
    [1, 2],
    {},
    { a: 1 },
    [-1],
    [2 ** 40, 2 ** 40],
    [1e308],
    "i4",
    "b1",
    "float32",
    "__proto__",
  ];
  const pick = () => structuredClone(weird[Math.floor(r() * weird.length)]);
  const keys = ["name", "dtype", "layout", "bits", "shape", "offset", "length", "extra"];
  for (let trial = 0; trial < 2000; trial++) {
    const m = structuredClone(base);
    const n = 1 + Math.floor(r() * 3);
    for (let j = 0; j < n; j++) {
      const u = r();
      if (u < 0.7 && Array.isArray(m.tensors) && m.tensors.length) {
        const i = Math.floor(r() * m.tensors.length);
        const t = m.tensors[i];
        if (r() < 0.05 || typeof t !== "object" || t === null) m.tensors[i] = pick();
        else t[keys[Math.floor(r() * keys.length)]] = pick();
      } else if (u < 0.8) m.tensors = pick();
      else if (u < 0.9) m.producer = pick();
      else if (u < 0.95) m.extras = r() < 0.5 ? pick() : [{ name: pick(), section: pick() }];
      else delete m[["model", "tensors", "producer"][Math.floor(r() * 3)]];
    }
    const text = JSON.stringify(m);
    try {
      readPacked(withManifest(bytes, text));
    } catch (e) {
      if (!(e instanceof EdgeqError) || e.code !== "E_FORMAT") {
        throw new Error(`trial ${trial}: ${e}\n${text}`);
      }
    }
  }
  // Not JSON, not UTF-8, not an object, very deep nesting.
  const bad = [
    "",
    "nul",
    "[]",
    "42",
    '"x"',
    "{".repeat(10),
    "[".repeat(200000) + "]".repeat(200000),
  ];
  for (const text of bad) {
    expectError(() => readPacked(withManifest(bytes, text)), ["E_FORMAT"], text.slice(0, 10));
  }
  const deep = `{"producer":{"name":"x"},"tensors":[],"model":${"[".repeat(100000)}${
    "]".repeat(100000)
  }}`;
  try {
    readPacked(withManifest(bytes, deep));
  } catch (e) {
    assert.ok(e instanceof EdgeqError && e.code === "E_FORMAT", String(e));
  }
  const latin1 = withManifest(bytes, JSON.stringify(base));
  const ms = readPacked(latin1).sections[0];
  latin1[ms.offset + 2] = 0xff; // invalid UTF-8 inside a key
  assert.match(expectError(() => readPacked(refix(latin1)), ["E_FORMAT"]).message, /UTF-8/);
});

function readPackedManifest(bytes: Uint8Array): Uint8Array {
  const s = readPacked(bytes).sections[0];
  return bytes.subarray(s.offset, s.offset + s.storedLength);
}

Deno.test("robustness: absurd declared sizes fail fast, before allocation", () => {
  const bytes = writePacked(smallInput(), { compress: true });
  const set = (fn: (dv: DataView) => void) => {
    const b = bytes.slice();
    fn(new DataView(b.buffer));
    return refix(b);
  };
  const t0 = performance.now();
  const cases: [string, Uint8Array][] = [
    ["count", set((dv) => dv.setUint32(HEADER.sectionCount, 0xffffffff, true))],
    ["count 1000", set((dv) => dv.setUint32(HEADER.sectionCount, 1000, true))],
    ["entry size", set((dv) => dv.setUint32(HEADER.entrySize, 0xfffffff8, true))],
    ["header size", set((dv) => dv.setUint32(HEADER.headerSize, 0xfffffffc, true))],
    ["file size", set((dv) => dv.setBigUint64(HEADER.fileSize, 2n ** 63n, true))],
    ["stored", set((dv) => dv.setBigUint64(HEADER.size + ENTRY.stored, 2n ** 52n, true))],
    ["offset", set((dv) => dv.setBigUint64(HEADER.size + ENTRY.offset, 2n ** 64n - 1n, true))],
    ["raw 2^50", set((dv) => dv.setBigUint64(HEADER.size + ENTRY.raw, 2n ** 50n, true))],
    ["raw 2^64", set((dv) => dv.setBigUint64(HEADER.size + ENTRY.raw, 2n ** 64n - 1n, true))],
    ["raw +1", set((dv) => dv.setBigUint64(HEADER.size + ENTRY.raw, 1n, true))],
    ["comp 7", set((dv) => dv.setUint16(HEADER.size + ENTRY.compression, 7, true))],
  ];
  for (const [what, b] of cases) {
    const e = expectError(() => readPacked(b), ["E_FORMAT"], what);
    assert.ok(e.message.length > 10);
  }
  assert.ok(performance.now() - t0 < 2000, "fast");
  // A cap on inflated bytes is honoured.
  expectError(() => readPacked(bytes, { maxInflatedBytes: 10 }), ["E_FORMAT"]);
});

Deno.test("robustness: bad tensor table entries are E_FORMAT naming the tensor", () => {
  const bytes = writePacked(smallInput());
  const cases: [string, string, RegExp][] = [
    ['"offset":64', '"offset":65', /not 64-byte aligned/],
    ['"length":9', '"length":8', /length 8 != 9/],
    ['"shape":[3,5]', '"shape":[5,3]', /length 9 != 10/],
    ['"shape":[3,5]', '"shape":[3,-5', /not UTF-8 JSON/],
    ['"shape":[3,5]', '"shape":"3x5"', /shape/],
    ['"dtype":"float32"', '"dtype":"float64"', /dtype/],
    ['"bits":4', '"bits":8', /bits 8/],
    ['"name":"b"', '"name":"a"', /duplicate/],
    ['"offset":64', '"offset":0"', /JSON/],
    ['"offset":128', '"offset":1e9', /outside the data section/],
  ];
  for (const [from, to, re] of cases) {
    const e = expectError(() => readPacked(editManifest(bytes, from, to)), ["E_FORMAT"], to);
    assert.match(e.message, re, `${to}: ${e.message}`);
    if (!/JSON/.test(String(re))) assert.ok(e.where.tensor, `${to} names the tensor`);
  }
  // Overlapping tensors: move tensor b onto tensor a.
  const s = readPacked(bytes).tensors.get("b")!;
  const ov = editManifest(
    bytes,
    `"offset":${s.offset}`,
    `"offset":${"0".padStart(String(s.offset).length)}`,
  );
  assert.match(expectError(() => readPacked(ov), ["E_FORMAT"]).message, /overlaps/);
  // Non-zero padding between sections.
  const data = sectionOf(bytes, "data");
  const pad = bytes.slice();
  pad[data.offset - 1] = 1;
  assert.match(expectError(() => readPacked(pad), ["E_FORMAT"]).message, /padding/);
  // Not a packed file at all.
  const junk = new TextEncoder().encode('{"model": 1}\n'.repeat(10));
  assert.match(expectError(() => readPacked(junk), ["E_FORMAT"]).message, /magic/);
});

// ---------------------------------------------------------------------------------------
// Atomic file writes

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("writePackedFile: atomic write, no temp left behind on success or failure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeq_format_" });
  try {
    const bytes = writePacked(sampleInput());
    const path = `${dir}/model.eqp`;
    await writePackedFile(path, bytes);
    assert.deepEqual(await Deno.readFile(path), bytes);
    // Overwrite replaces the old file.
    const small = writePacked(smallInput());
    await writePackedFile(path, small);
    assert.deepEqual(await Deno.readFile(path), small);
    assert.deepEqual(await listDir(dir), ["model.eqp"]);

    // Rename fails (target is a non-empty directory): temp file removed, target untouched.
    await Deno.mkdir(`${dir}/taken.eqp`);
    await Deno.writeTextFile(`${dir}/taken.eqp/keep`, "x");
    const e = await writePackedFile(`${dir}/taken.eqp`, bytes).then(
      () => assert.fail("expected a failure"),
      (e) => e,
    );
    assert.ok(e instanceof EdgeqError && e.code === "E_USAGE", String(e));
    assert.equal(e.where.path, `${dir}/taken.eqp`);
    assert.deepEqual(await listDir(dir), ["model.eqp", "taken.eqp"]);
    assert.deepEqual(await listDir(`${dir}/taken.eqp`), ["keep"]);

    // Directory missing: nothing created anywhere.
    const e2 = await writePackedFile(`${dir}/nope/model.eqp`, bytes).then(
      () => assert.fail("expected a failure"),
      (e) => e,
    );
    assert.ok(e2 instanceof EdgeqError && e2.code === "E_USAGE");
    assert.deepEqual(await listDir(dir), ["model.eqp", "taken.eqp"]);

    // Read-only directory (root may write anyway: then the write simply succeeds).
    const ro = `${dir}/ro`;
    await Deno.mkdir(ro, { mode: 0o555 });
    const wrote = await writePackedFile(`${ro}/m.eqp`, bytes).then(() => true, (e) => {
      assert.ok(e instanceof EdgeqError, String(e));
      return false;
    });
    assert.deepEqual(await listDir(ro), wrote ? ["m.eqp"] : []);
  } finally {
    await Deno.chmod(`${dir}/ro`, 0o755).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
