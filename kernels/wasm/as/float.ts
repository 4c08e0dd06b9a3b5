// Float islands in f32 SIMD: softmax and layer norm over the last axis, erf, and
// binary arithmetic with scalar / same-shape / last-axis broadcasting.
// Accuracy (tests/wasm_float_test.ts): exp and erf within a few f32 ulps of the
// correctly rounded values; every result within 1e-5 relative of the f64 reference.

// exp(x) for |x| <= 88: x = k·ln2 + r, |r| <= ln2/2, degree-6 polynomial (Cephes expf).
// @ts-ignore: decorator
@inline function vexp(x: v128): v128 {
  x = f32x4.max(f32x4.min(x, f32x4.splat(88.3762626647949)), f32x4.splat(-87.3365447504));
  const k = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(k, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  p = f32x4.add(f32x4.add(f32x4.mul(p, r2), r), f32x4.splat(1));
  // 2^k
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(k), i32x4.splat(127)), 23);
  return f32x4.mul(p, e);
}

/** Softmax over rows of n floats, rows [lo, hi). */
export function softmax(x: usize, y: usize, n: i32, lo: i32, hi: i32, _tid: i32): void {
  const n4 = n & ~3;
  for (let r = lo; r < hi; r++) {
    const xr = x + <usize>(r * n) * 4, yr = y + <usize>(r * n) * 4;
    let mv = f32x4.splat(-Infinity);
    let i = 0;
    for (; i < n4; i += 4) mv = f32x4.max(mv, v128.load(xr + (<usize>i << 2)));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; i < n; i++) m = max(m, load<f32>(xr + (<usize>i << 2)));
    const mm = f32x4.splat(m);
    let sv = f32x4.splat(0);
    for (i = 0; i < n4; i += 4) {
      const e = vexp(f32x4.sub(v128.load(xr + (<usize>i << 2)), mm));
      v128.store(yr + (<usize>i << 2), e);
      sv = f32x4.add(sv, e);
    }
    let s = f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1) + f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3);
    for (; i < n; i++) {
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(xr + (<usize>i << 2)) - m)), 0);
      store<f32>(yr + (<usize>i << 2), e);
      s += e;
    }
    const inv = f32x4.splat(<f32>1 / s);
    for (i = 0; i < n4; i += 4) v128.store(yr + (<usize>i << 2), f32x4.mul(v128.load(yr + (<usize>i << 2)), inv));
    for (; i < n; i++) store<f32>(yr + (<usize>i << 2), load<f32>(yr + (<usize>i << 2)) / s);
  }
}

/** LayerNormalization over rows of n floats with scale g and bias b (b may be 0). */
export function layernorm(x: usize, g: usize, b: usize, y: usize, n: i32, eps: f32, lo: i32, hi: i32, _tid: i32): void {
  const n4 = n & ~3;
  for (let r = lo; r < hi; r++) {
    const xr = x + <usize>(r * n) * 4, yr = y + <usize>(r * n) * 4;
    let sv = f32x4.splat(0);
    let i = 0;
    for (; i < n4; i += 4) sv = f32x4.add(sv, v128.load(xr + (<usize>i << 2)));
    let s = f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1) + f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3);
    for (; i < n; i++) s += load<f32>(xr + (<usize>i << 2));
    const mean = s / <f32>n;
    const mv = f32x4.splat(mean);
    let qv = f32x4.splat(0);
    for (i = 0; i < n4; i += 4) {
      const d = f32x4.sub(v128.load(xr + (<usize>i << 2)), mv);
      qv = f32x4.add(qv, f32x4.mul(d, d));
    }
    let q = f32x4.extract_lane(qv, 0) + f32x4.extract_lane(qv, 1) + f32x4.extract_lane(qv, 2) + f32x4.extract_lane(qv, 3);
    for (; i < n; i++) {
      const d = load<f32>(xr + (<usize>i << 2)) - mean;
      q += d * d;
    }
    const inv = <f32>1 / Mathf.sqrt(q / <f32>n + eps);
    const iv = f32x4.splat(inv);
    for (i = 0; i < n4; i += 4) {
      const o = <usize>i << 2;
      let v = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(xr + o), mv), iv), v128.load(g + o));
      if (b) v = f32x4.add(v, v128.load(b + o));
      v128.store(yr + o, v);
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      let v = (load<f32>(xr + o) - mean) * inv * load<f32>(g + o);
      if (b) v += load<f32>(b + o);
      store<f32>(yr + o, v);
    }
  }
}

// erf(x): Abramowitz & Stegun 7.1.26 is too coarse (1.5e-7 abs); use erf = sign·(1 − t·exp(−x²+P(t))),
// t = 1/(1 + 0.5|x|) (Numerical Recipes erfc, |rel err| < 1.2e-7).
// @ts-ignore: decorator
@inline function verf(x: v128): v128 {
  const z = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  const erfc = f32x4.mul(t, vexp(f32x4.sub(p, f32x4.mul(z, z))));
  const r = f32x4.sub(f32x4.splat(1), erfc);
  // copy the sign of x
  return v128.or(v128.and(r, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000)));
}

/** y = erf(x), elements [lo, hi). */
export function erf(x: usize, y: usize, lo: i32, hi: i32, _tid: i32): void {
  let i = lo;
  for (; i + 4 <= hi; i += 4) v128.store(y + (<usize>i << 2), verf(v128.load(x + (<usize>i << 2))));
  for (; i < hi; i++) store<f32>(y + (<usize>i << 2), f32x4.extract_lane(verf(f32x4.splat(load<f32>(x + (<usize>i << 2)))), 0));
}

// @ts-ignore: decorator
@inline function vop(op: i32, a: v128, b: v128): v128 {
  if (op == 0) return f32x4.add(a, b);
  if (op == 1) return f32x4.sub(a, b);
  if (op == 2) return f32x4.mul(a, b);
  return f32x4.div(a, b);
}

/**
 * y = a op b (op 0 add, 1 sub, 2 mul, 3 div) for elements [lo, hi). b (or a) repeats with
 * period pb (pa) elements: n for same shape, 1 for a scalar, the last axis for a row vector.
 */
export function fbinary(op: i32, a: usize, pa: i32, b: usize, pb: i32, y: usize, lo: i32, hi: i32, _tid: i32): void {
  let i = lo;
  if (pa >= hi && pb >= hi) {
    for (; i + 4 <= hi; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, vop(op, v128.load(a + o), v128.load(b + o)));
    }
  } else if (pa == 1 || pb == 1) {
    const s = f32x4.splat(pa == 1 ? load<f32>(a) : load<f32>(b));
    const v = pa == 1 ? b : a;
    for (; i + 4 <= hi; i += 4) {
      const x = v128.load(v + (<usize>i << 2));
      v128.store(y + (<usize>i << 2), pa == 1 ? vop(op, s, x) : vop(op, x, s));
    }
  }
  for (; i < hi; i++) {
    const x = load<f32>(a + (<usize>(i % pa) << 2)), z = load<f32>(b + (<usize>(i % pb) << 2));
    store<f32>(y + (<usize>i << 2), f32x4.extract_lane(vop(op, f32x4.splat(x), f32x4.splat(z)), 0));
  }
}
