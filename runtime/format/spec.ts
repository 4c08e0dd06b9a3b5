/**
 * Constants of the packed model format v1 (`.eqp`), shared by the reader and the writer.
 * FORMAT.md beside this file is the prose spec; the numbers live here.
 *
 * @module
 */

/**
 * The 8 magic bytes every packed file starts with: `"EDGEQ"`, a NUL (marks the file as
 * binary), then CR LF (detects a text-mode transfer that rewrote line ends).
 *
 * @example
 * ```ts
 * import { MAGIC } from "./spec.ts";
 * new TextDecoder().decode(MAGIC.subarray(0, 5)); // "EDGEQ"
 * ```
 */
export const MAGIC: Uint8Array = new Uint8Array([0x45, 0x44, 0x47, 0x45, 0x51, 0x00, 0x0d, 0x0a]);

/**
 * Version this code writes, and the newest it reads in full. Files of the same major and
 * any minor are read; another major is refused with `E_VERSION`.
 *
 * @example
 * ```ts
 * import { FORMAT_VERSION } from "./spec.ts";
 * FORMAT_VERSION.major; // 1
 * ```
 */
export const FORMAT_VERSION: Readonly<{ major: number; minor: number }> = Object.freeze({
  major: 1,
  minor: 0,
});

/**
 * Byte offsets of the fixed header fields (all little-endian). The header is
 * `headerSize` bytes (64 in v1.0, more in a later minor); its last 4 bytes are the header
 * CRC-32 of the bytes before them. Magic and major version never move across majors.
 *
 * @example
 * ```ts
 * import { HEADER } from "./spec.ts";
 * HEADER.major; // 8
 * ```
 */
export const HEADER = Object.freeze({
  magic: 0, //        u8[8]  MAGIC
  major: 8, //        u16    major version (1)
  minor: 10, //       u16    minor version (0)
  flags: 12, //       u32    flags, none defined in 1.x: writers write 0, readers ignore
  headerSize: 16, //  u32    header bytes incl. the trailing CRC (>= 64, multiple of 4)
  sectionCount: 20, // u32   entries in the section table (1..MAX_SECTIONS)
  entrySize: 24, //   u32    bytes per section table entry (>= 40, multiple of 8)
  tableCrc: 28, //    u32    CRC-32 of the whole section table
  fileSize: 32, //    u64    total file bytes
  //                  40..59 reserved, zero in v1.0 (covered by the header CRC)
  size: 64, //        v1.0 header size; the header CRC is its last u32 (offset 60)
});

/**
 * Byte offsets inside one section table entry (40 bytes in v1.0; a later minor may make
 * entries longer, readers skip the bytes they do not know).
 *
 * @example
 * ```ts
 * import { ENTRY } from "./spec.ts";
 * ENTRY.offset; // 8
 * ```
 */
export const ENTRY = Object.freeze({
  kind: 0, //        u16  SectionKind code
  compression: 2, // u16  Compression code
  crc: 4, //         u32  CRC-32 of the stored (possibly compressed) bytes
  offset: 8, //      u64  file offset of the stored bytes
  stored: 16, //     u64  stored length in the file
  raw: 24, //        u64  length after decompression (= stored when not compressed)
  //                 32..39 reserved, zero in v1.0
  size: 40,
});

/**
 * Section kinds (their codes are in `SECTION_KIND`).
 *
 * @example
 * ```ts
 * import type { SectionKind } from "./spec.ts";
 * const k: SectionKind = "data";
 * ```
 */
export type SectionKind = "manifest" | "data" | "extra";

/**
 * Section kind codes. Unknown codes are skipped by readers (after bounds and CRC checks).
 *
 * @example
 * ```ts
 * import { SECTION_KIND } from "./spec.ts";
 * SECTION_KIND.data; // 2
 * ```
 */
export const SECTION_KIND: Readonly<Record<SectionKind, number>> = Object.freeze({
  manifest: 1,
  data: 2,
  extra: 3,
});

/**
 * Compression of a section's stored bytes (codes in `COMPRESSION`).
 *
 * @example
 * ```ts
 * import type { Compression } from "./spec.ts";
 * const c: Compression = "deflate";
 * ```
 */
export type Compression = "none" | "deflate";

/**
 * Compression codes: 0 none, 1 raw deflate (RFC 1951, no zlib/gzip wrapper).
 *
 * @example
 * ```ts
 * import { COMPRESSION } from "./spec.ts";
 * COMPRESSION.deflate; // 1
 * ```
 */
export const COMPRESSION: Readonly<Record<Compression, number>> = Object.freeze({
  none: 0,
  deflate: 1,
});

/**
 * Alignment, in bytes, of the data section's file offset and of every tensor offset
 * inside it: every tensor starts at a 64-byte aligned file offset.
 *
 * @example
 * ```ts
 * import { ALIGN } from "./spec.ts";
 * ALIGN; // 64
 * ```
 */
export const ALIGN = 64;

/**
 * Reader limits that make bad input fail fast, before any allocation.
 *
 * @example
 * ```ts
 * import { LIMITS } from "./spec.ts";
 * LIMITS.maxSections; // 1024
 * ```
 */
export const LIMITS = Object.freeze({
  /** Largest accepted header size. */
  maxHeaderSize: 65536,
  /** Largest accepted section table entry size. */
  maxEntrySize: 4096,
  /** Largest accepted section count. */
  maxSections: 1024,
  /** Deflate cannot expand more than ~1032:1; a larger declared raw length is corrupt. */
  maxDeflateRatio: 1032,
  /** Default cap on the total bytes inflated for one file (option `maxInflatedBytes`). */
  defaultMaxInflated: 1 << 30,
  /** Largest tensor rank accepted in a manifest. */
  maxRank: 64,
});
