// Layout ops on raw elements: N-D transpose (rank <= 6) of 1- or 4-byte elements.

/**
 * Transposes x (shape dims, row-major) into y with y's axis i = x's axis perm[i].
 * `rec` holds i32: rank, esize, then outDims[6], then inStrides permuted [6] (elements).
 * Output elements [lo, hi) (flat).
 */
export function transpose(x: usize, y: usize, rec: usize, lo: i32, hi: i32, _tid: i32): void {
  const rank = load<i32>(rec), es = load<i32>(rec, 4);
  const d = rec + 8, st = rec + 32;
  const last = rank - 1;
  const dl = load<i32>(d + (<usize>last << 2)), sl = load<i32>(st + (<usize>last << 2));
  let o = lo;
  while (o < hi) {
    // source offset of output element o (odometer over the leading axes)
    let rem = o / dl, src = 0;
    const x0 = o - rem * dl;
    for (let i = last - 1; i >= 0; i--) {
      const di = load<i32>(d + (<usize>i << 2));
      const q = rem / di;
      src += (rem - q * di) * load<i32>(st + (<usize>i << 2));
      rem = q;
    }
    src += x0 * sl;
    // the rest of this innermost run: contiguous output, strided input
    const end = o - x0 + dl < hi ? o - x0 + dl : hi;
    if (sl == 1) {
      // the last axis stays last: a contiguous run
      memory.copy(y + (<usize>o * <usize>es), x + (<usize>src * <usize>es), <usize>(end - o) * <usize>es);
      o = end;
    } else if (es == 1) {
      for (; o < end; o++, src += sl) store<u8>(y + <usize>o, load<u8>(x + <usize>src));
    } else {
      for (; o < end; o++, src += sl) store<u32>(y + (<usize>o << 2), load<u32>(x + (<usize>src << 2)));
    }
  }
}
