/**
 * Residual-block discovery: for every join of two computed values — a float Add, a
 * quantized QAdd, or a QConv with a fused residual input (domain edgeq) — the fork
 * they both start from, the body path and the shortcut path. A span is a block only
 * if skipping it is safe: no body value is used outside the body.
 *
 * Skipping a block means the body's value is a real zero at the join (see
 * kernels/ref/quant/skip.ts): for a float Add the output is the shortcut itself; for
 * the quantized joins the shortcut is requantized to the join's output parameters.
 */
import type { Graph, Node, ResidualBlock } from "./graph.ts";

/**
 * Finds the residual blocks of a bound graph, in execution order.
 *
 * @example
 * ```ts
 * for (const b of findResidualBlocks(bound)) console.log(b.index, b.input, "->", b.output);
 * ```
 */
export function findResidualBlocks(g: Graph): ResidualBlock[] {
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const consumers = new Map<string, number[]>();
  g.nodes.forEach((n, i) =>
    n.inputs.forEach((x) => {
      if (!x) return;
      const l = consumers.get(x) ?? [];
      l.push(i);
      consumers.set(x, l);
    })
  );
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const isComputed = (v: string) => !g.initializers.has(v);

  // Ancestor node sets, memoised per node index.
  const anc = new Map<number, Set<number>>();
  const ancestors = (v: string): Set<number> => {
    const p = producer.get(v);
    if (p === undefined) return new Set();
    let s = anc.get(p);
    if (s) return s;
    s = new Set([p]);
    for (const x of g.nodes[p].inputs) if (x) { for (const a of ancestors(x)) s.add(a); }
    anc.set(p, s);
    return s;
  };

  const blocks: ResidualBlock[] = [];
  g.nodes.forEach((add: Node, ai) => {
    const join = joinInputs(add);
    if (!join) return;
    const [a, b] = join;
    if (!isComputed(a) || !isComputed(b) || a === b) return;
    const A = ancestors(a), B = ancestors(b);
    // Fork: the latest value both sides descend from (or one side itself).
    const fork = findFork(g, a, b, A, B, producer);
    if (fork === undefined) return;
    const down = descendants(fork, consumers, g);
    const pa = a === fork ? [] : [...A].filter((i) => down.has(i));
    const pb = b === fork ? [] : [...B].filter((i) => down.has(i));
    if (pa.length === 0 && pb.length === 0) return;
    // A fused residual conv's R input is the shortcut by definition.
    const aIsBody = add.op === "QConv" || pa.length >= pb.length;
    const [bodyV, shortV, bodyN, shortN] = aIsBody ? [a, b, pa, pb] : [b, a, pb, pa];
    const bodySet = new Set(bodyN.filter((i) => !shortN.includes(i)));
    // Safety: body values must be used only inside the body (or by the Add).
    for (const i of bodySet) {
      for (const o of g.nodes[i].outputs) {
        if (!o) continue;
        if (graphOutputs.has(o)) return;
        for (const c of consumers.get(o) ?? []) if (c !== ai && !bodySet.has(c)) return;
      }
    }
    const order = [...bodySet].sort((x, y) => x - y);
    blocks.push({
      index: blocks.length,
      input: fork,
      shortcut: shortV,
      body: bodyV,
      output: add.outputs[0],
      join: add.name,
      bodyInput: add.inputs.indexOf(bodyV),
      nodes: [...order.map((i) => g.nodes[i].name), add.name],
      shortcutNodes: [...shortN].sort((x, y) => x - y).map((i) => g.nodes[i].name),
    });
  });
  return blocks;
}

/** The two joined values of a residual join node, or undefined if `n` is not one. */
function joinInputs(n: Node): [string, string] | undefined {
  const edgeq = n.domain === "edgeq";
  if (n.op === "Add" && !edgeq && n.inputs.length === 2) return [n.inputs[0], n.inputs[1]];
  if (n.op === "QAdd" && edgeq && n.inputs.length === 2) return [n.inputs[0], n.inputs[1]];
  if (n.op === "QConv" && edgeq && n.inputs.length === 4 && n.inputs[3]) {
    return [n.inputs[0], n.inputs[3]];
  }
  return undefined;
}

function findFork(
  g: Graph,
  a: string,
  b: string,
  A: Set<number>,
  B: Set<number>,
  producer: Map<string, number>,
): string | undefined {
  const pa = producer.get(a), pb = producer.get(b);
  if (pa !== undefined && B.has(pa)) return a;
  if (pb !== undefined && A.has(pb)) return b;
  let best = -1;
  for (const i of A) if (B.has(i) && i > best) best = i;
  if (best >= 0) {
    // The common node's output(s): pick the one that reaches both sides.
    const outs = g.nodes[best].outputs.filter(Boolean);
    return outs[0];
  }
  // Both sides start from the same graph input.
  for (const inp of g.inputs) {
    const reachA = [...A].some((i) => g.nodes[i].inputs.includes(inp.name));
    const reachB = [...B].some((i) => g.nodes[i].inputs.includes(inp.name));
    if (reachA && reachB) return inp.name;
  }
  return undefined;
}

function descendants(v: string, consumers: Map<string, number[]>, g: Graph): Set<number> {
  const out = new Set<number>();
  const stack = [v];
  while (stack.length) {
    const x = stack.pop()!;
    for (const c of consumers.get(x) ?? []) {
      if (out.has(c)) continue;
      out.add(c);
      for (const o of g.nodes[c].outputs) if (o) stack.push(o);
    }
  }
  return out;
}
