// Layout ops on raw elements: N-D transpose (rank <= 6) of 1- or 4-byte elements.

/**
 * Transposes x (shape dims, row-major) into y with y's axis i = x's axis perm[i].
 * `rec` holds i32: rank, esize, then outDims[6], then inStrides permuted [6] (elements).
 * Output elements [lo, hi) (flat).
 */
export function transpose(x: usize, y: usize, rec: usize, lo: i32, hi: i32, _tid: i32): void {
  const rank = load<i32>(rec), es = load<i32>(rec, 4);
  const d = rec + 8, st = rec + 32;
  for (let o = lo; o < hi; o++) {
    let rem = o, src = 0;
    for (let i = rank - 1; i >= 0; i--) {
      const di = load<i32>(d + (<usize>i << 2));
      const q = rem / di;
      src += (rem - q * di) * load<i32>(st + (<usize>i << 2));
      rem = q;
    }
    if (es == 1) store<u8>(y + <usize>o, load<u8>(x + <usize>src));
    else store<u32>(y + (<usize>o << 2), load<u32>(x + (<usize>src << 2)));
  }
}
