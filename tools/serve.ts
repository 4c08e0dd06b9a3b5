/**
 * `deno task serve [--root DIR] [--port N] [--no-isolation]`: a tiny static file server
 * for the browser build (default root `dist/`, port 8000, 127.0.0.1 only). It sends
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
 * require-corp` so that the page is cross-origin isolated and SharedArrayBuffer (the wasm
 * backend's threads) works; `--no-isolation` leaves them out (the 1-thread path).
 * GET/HEAD only; paths are confined to the root. With `--port 0` the OS picks a port;
 * the first line on stdout is always `listening on http://127.0.0.1:PORT/`.
 * @module
 */

/** Options of {@link serveDir}. */
export interface ServeOptions {
  /** Folder to serve. */
  root: string;
  /** Port (0: any free port). */
  port: number;
  /** Send COOP/COEP headers (default true). */
  isolation?: boolean;
  /** Host to bind (default 127.0.0.1). */
  hostname?: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  css: "text/css; charset=utf-8",
  wasm: "application/wasm",
  svg: "image/svg+xml",
  png: "image/png",
};

/**
 * Serves a folder until the returned server is shut down.
 *
 * @example
 * ```ts
 * const s = serveDir({ root: "dist", port: 0 });
 * console.log(`http://127.0.0.1:${s.addr.port}/`);
 * await s.shutdown();
 * ```
 */
export function serveDir(opts: ServeOptions): Deno.HttpServer<Deno.NetAddr> {
  const root = opts.root.replace(/\/+$/, "");
  const isolation = opts.isolation ?? true;
  return Deno.serve(
    { hostname: opts.hostname ?? "127.0.0.1", port: opts.port, onListen: () => {} },
    async (req) => {
      const headers = new Headers({ "cache-control": "no-store" });
      if (isolation) {
        headers.set("cross-origin-opener-policy", "same-origin");
        headers.set("cross-origin-embedder-policy", "require-corp");
        headers.set("cross-origin-resource-policy", "same-origin");
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed\n", { status: 405, headers });
      }
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url).pathname);
      } catch {
        return new Response("bad path\n", { status: 400, headers });
      }
      if (path.endsWith("/")) path += "index.html";
      if (path.split("/").some((p) => p === ".." || p.startsWith("."))) {
        return new Response("forbidden\n", { status: 403, headers });
      }
      let body: Uint8Array;
      try {
        body = await Deno.readFile(root + path);
      } catch {
        return new Response("not found\n", { status: 404, headers });
      }
      const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
      headers.set("content-type", TYPES[ext] ?? "application/octet-stream");
      return new Response(req.method === "HEAD" ? null : body as BufferSource, { headers });
    },
  );
}

if (import.meta.main) {
  const args = [...Deno.args];
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const root = opt("--root", "dist");
  const port = Number(opt("--port", "8000"));
  const isolation = !args.includes("--no-isolation");
  const s = serveDir({ root, port, isolation });
  console.log(`listening on http://127.0.0.1:${s.addr.port}/`);
  console.log(
    `serving ${root} ${
      isolation ? "with COOP/COEP (cross-origin isolated)" : "without COOP/COEP"
    }; Ctrl-C stops`,
  );
}
