/**
 * The benchmark chart as a standalone SVG: one point per model × runtime × thread
 * count; x = median latency (log), y = model file size (log), colour = runtime,
 * filled = 1 thread / hollow = more; the label gives the model and, for classifiers,
 * the top-1.
 * @module
 */
import type { ReportRow } from "./report.ts";

const COLOURS: Record<string, string> = {
  "ort-f32": "#1f77b4",
  "ort-int8": "#2ca02c",
  "edgeq-ref": "#7f7f7f",
  "edgeq-wasm": "#d62728",
  "edgeq-webgpu": "#9467bd",
};

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Renders the chart (a complete SVG document).
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("bench.svg", renderSvg(withRatios(results), "edgeq bench"));
 * ```
 */
export function renderSvg(rows: readonly ReportRow[], title: string, subtitle = ""): string {
  const pts = rows.filter((r) => r.latency && r.latency.median > 0);
  const W = 900, H = 560, L = 80, R = 200, T = 56, B = 60;
  const lx = pts.map((r) => Math.log10(r.latency!.median));
  const ly = pts.map((r) => Math.log10(r.model_bytes));
  const span = (v: number[]) => {
    const lo = v.length ? Math.floor(Math.min(...v)) : 0;
    const hi = v.length ? Math.ceil(Math.max(...v)) : 1;
    return [lo, hi === lo ? lo + 1 : hi];
  };
  const [x0, x1] = span(lx), [y0, y1] = span(ly);
  const X = (v: number) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const Y = (v: number) => H - B - ((v - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
  );
  for (let e = x0; e <= x1; e++) {
    out.push(
      `<line x1="${X(e)}" y1="${T}" x2="${X(e)}" y2="${H - B}" stroke="#ddd"/>`,
      `<text x="${X(e)}" y="${H - B + 16}" text-anchor="middle">${
        10 ** e >= 1 ? 10 ** e : (10 ** e).toPrecision(1)
      } ms</text>`,
    );
  }
  for (let e = y0; e <= y1; e++) {
    const v = 10 ** e;
    const label = v >= 1e6 ? `${v / 1e6} MB` : v >= 1e3 ? `${v / 1e3} kB` : `${v} B`;
    out.push(
      `<line x1="${L}" y1="${Y(e)}" x2="${W - R}" y2="${Y(e)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${Y(e) + 4}" text-anchor="end">${label}</text>`,
    );
  }
  out.push(
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${
      H - T - B
    }" fill="none" stroke="#333"/>`,
    `<text x="${(L + W - R) / 2}" y="${
      H - 18
    }" text-anchor="middle">median latency, batch 1 (log)</text>`,
    `<text transform="translate(18 ${
      (T + H - B) / 2
    }) rotate(-90)" text-anchor="middle">model file size (log)</text>`,
  );
  const placed: [number, number][] = []; // label anchors already used
  pts.forEach((r, i) => {
    const c = COLOURS[r.runtime] ?? "#000";
    const cx = X(lx[i]), cy = Y(ly[i]);
    const acc = r.top1 === undefined ? "" : ` ${(100 * r.top1).toFixed(1)}%`;
    const tip = `${r.model} ${r.runtime} ${r.threads} thr: ${r.latency!.median.toFixed(3)} ms, ` +
      `${r.model_bytes} B${acc}`;
    // Label the 1-thread points only (the tooltip has every detail), nudged off others.
    let label = "";
    if (r.threads === 1) {
      const text = r.model + acc, wide = 6 * text.length;
      let ty = cy - 6;
      for (let k = 0; k < 6; k++) {
        const hit = placed.some(([px, py]) =>
          Math.abs(py - ty) < 11 && cx < px + wide && px < cx + wide
        );
        if (!hit) break;
        ty += 12;
      }
      placed.push([cx, ty]);
      label = `<text x="${(cx + 8).toFixed(1)}" y="${ty.toFixed(1)}" fill="${c}">${
        esc(text)
      }</text>`;
    }
    out.push(
      `<g><title>${esc(tip)}</title><circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="6" ` +
        `fill="${r.threads > 1 ? "white" : c}" stroke="${c}" stroke-width="2"/>${label}</g>`,
    );
  });
  let ly0 = T + 10;
  for (const [rt, c] of Object.entries(COLOURS)) {
    out.push(
      `<circle cx="${W - R + 20}" cy="${ly0}" r="6" fill="${c}"/>`,
      `<text x="${W - R + 32}" y="${ly0 + 4}">${rt}</text>`,
    );
    ly0 += 20;
  }
  out.push(
    `<circle cx="${W - R + 20}" cy="${ly0 + 10}" r="6" fill="#333"/><text x="${W - R + 32}" y="${
      ly0 + 14
    }">1 thread</text>`,
    `<circle cx="${W - R + 20}" cy="${
      ly0 + 30
    }" r="6" fill="white" stroke="#333" stroke-width="2"/><text x="${W - R + 32}" y="${
      ly0 + 34
    }">2+ threads</text>`,
    `<text x="${W - R + 14}" y="${ly0 + 60}">label (1 thread): model [top-1]</text>`,
    `<text x="${W - R + 14}" y="${ly0 + 76}">hover a point for details</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}
