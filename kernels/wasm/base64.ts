/**
 * Base64 for the generated wasm module (std's encoding module is not reachable here).
 * @module
 */

/**
 * Encodes bytes as base64.
 *
 * @example
 * ```ts
 * encodeBase64(new Uint8Array([0, 97, 115, 109])); // "AGFzbQ=="
 * ```
 */
export function encodeBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Decodes base64 to bytes.
 *
 * @example
 * ```ts
 * decodeBase64("AGFzbQ=="); // Uint8Array [0, 97, 115, 109]
 * ```
 */
export function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
