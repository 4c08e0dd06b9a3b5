// QMatMul preparation (activation × activation): A rows encoded like conv/gemm inputs,
// B transposed to [N][K] and made signed (b' = b for int8, b - 128 for uint8) so that it
// takes the weight operand, plus the zero-point corrections:
//   acc = Σ a_u·b' − azp_u·Σ_k b'[n] − bzp'·Σ_k a_u[r] + K·azp_u·bzp'
import { encA, encW } from "./encode";

/**
 * Prepares one batch slice: aPk = encoded A [M][2Kp], bPk = encoded B' [N][2Kp],
 * ccol[n] = −azp_u·Σ b'[n], crow[r] = −bzp'·Σ a_u[r] + K·azp_u·bzp' (i32, wrapping).
 */
export function qmatmul_prep(
  a: usize, asg: i32, b: usize, bsg: i32, M: i32, K: i32, N: i32, Kp: i32,
  aPk: usize, bPk: usize, ccol: usize, crow: usize, azpU: i32, bzp2: i32,
): void {
  const rb = <usize>(2 * Kp);
  const fa = asg ? 0x80 : 0, fb = bsg ? 0 : 0x80;
  for (let r = 0; r < M; r++) {
    const row = aPk + <usize>r * rb, src = a + <usize>(r * K);
    memory.fill(row, 0, rb);
    let s: i32 = 0;
    for (let k = 0; k < K; k++) {
      const u = <i32>load<u8>(src + <usize>k) ^ fa;
      s += u;
      encA(row, k, u);
    }
    store<i32>(crow + (<usize>r << 2), -bzp2 * s + K * azpU * bzp2);
  }
  for (let n = 0; n < N; n++) {
    const row = bPk + <usize>n * rb;
    memory.fill(row, 0, rb);
    let s: i32 = 0;
    for (let k = 0; k < K; k++) {
      const v = <i32><i8>(load<u8>(b + <usize>(k * N + n)) ^ fb);
      s += v;
      encW(row, k, v);
    }
    store<i32>(ccol + (<usize>n << 2), -azpU * s);
  }
}
