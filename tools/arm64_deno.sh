#!/usr/bin/env bash
# Runs the wasm kernel tests and an end-to-end int8 check under Deno's linux-arm64 build
# (qemu-user), i.e. on V8's ARM code generator, and checks that the bits equal x86's.
#
#   tools/arm64_deno.sh            # installs what it needs (apt, npm), then runs
#
# Needs root for apt-get (qemu-user, the arm64 cross libc/libstdc++/libgcc). The arm64
# deno comes from npm (@deno/linux-arm64-glibc, the host deno's version when published,
# else the newest below it) into .cache/arm64-deno. Speed under qemu means nothing; bits do.
# Prints deno test's summary line ("ok | N passed | M failed ...") of the arm64 run last.
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 DEBIAN_FRONTEND=noninteractive
HOST_DENO=${HOST_DENO:-deno}
command -v "$HOST_DENO" >/dev/null || HOST_DENO="npx -y deno@2"

pkgs="qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross"
if ! dpkg -s $pkgs >/dev/null 2>&1; then
  echo "== apt: $pkgs"
  (apt-get update -q && apt-get install -y -q --no-install-recommends $pkgs) >/tmp/edgeq-arm64-apt.log 2>&1 ||
    { tail -5 /tmp/edgeq-arm64-apt.log; echo "FAILED | 0 passed | 1 failed (apt)"; exit 1; }
fi

dir=.cache/arm64-deno
want=$($HOST_DENO --version | sed -nE '1s/^deno ([0-9.]+).*/\1/p')
if [ ! -x "$dir/package/deno" ]; then
  echo "== npm: @deno/linux-arm64-glibc (host deno $want)"
  mkdir -p "$dir"
  ver=$(npm view @deno/linux-arm64-glibc versions --json 2>/dev/null | tr -d '[]", ' | tr '\n' ' ' |
    tr ',' ' ' | xargs -n1 | sort -V | awk -v w="$want" '{ if (system("dpkg --compare-versions " $1 " le " w) == 0) v = $1 } END { print v }')
  [ -n "$ver" ] || { echo "FAILED | 0 passed | 1 failed (no arm64 deno on npm)"; exit 1; }
  [ "$ver" = "$want" ] || echo "note: @deno/linux-arm64-glibc $want is not on npm; using $ver"
  (cd "$dir" && npm pack "@deno/linux-arm64-glibc@$ver" >/dev/null 2>&1 && tar xzf deno-linux-arm64-glibc-*.tgz) ||
    { echo "FAILED | 0 passed | 1 failed (npm pack)"; exit 1; }
fi
ARM=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$dir/package/deno")
"${ARM[@]}" --version | head -1

echo "== x86: quantize the ResNet-14 fixture (8-bit and 7-bit weights), end-to-end digests"
tmp=$(mktemp -d)
declare -A x86
for wb in 8 7; do
  $HOST_DENO task edgeq quantize tests/fixtures/resnet14_op13.onnx --calib tests/fixtures/fmnist_calib \
    --calib-limit 64 --weight-bits $wb --out "$tmp/r14_w$wb.eqp" >/dev/null 2>&1 ||
    { echo "FAILED | 0 passed | 1 failed (quantize)"; exit 1; }
  x86[$wb]=$($HOST_DENO run --allow-read kernels/wasm/check_model.ts "$tmp/r14_w$wb.eqp" 32)
  echo "x86 w$wb:   ${x86[$wb]}"
done
# the ViT fixture (integer QLut/QSoftmax/QLayerNorm/QMatMul), as key "vit"
$HOST_DENO task edgeq quantize tests/fixtures/vit_op17.onnx --calib tests/fixtures/fmnist_calib \
  --calib-limit 64 --out "$tmp/r14_wvit.eqp" >/dev/null 2>&1 ||
  { echo "FAILED | 0 passed | 1 failed (quantize vit)"; exit 1; }
x86[vit]=$($HOST_DENO run --allow-read kernels/wasm/check_model.ts "$tmp/r14_wvit.eqp" 32)
echo "x86 vit:  ${x86[vit]}"

echo "== arm64: wasm kernel + float-island tests (every build, 1 and 2 threads)"
log=$(mktemp)
"${ARM[@]}" test --no-check --allow-read --allow-write=/tmp --allow-env --allow-run \
  tests/wasm_build_test.ts tests/wasm_kernels_test.ts tests/wasm_float_test.ts tests/wasm_qnorm_test.ts 2>&1 | tee "$log"
line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$line")
passed=${passed:-0}
failed=${failed:-1}

echo "== arm64: end-to-end int8 checks (ref vs wasm on arm64, digest vs x86; 8-bit: split path, 7-bit: s8 path, vit)"
for wb in 8 7 vit; do
  arm=$("${ARM[@]}" run --no-check --allow-read kernels/wasm/check_model.ts "$tmp/r14_w$wb.eqp" 32)
  echo "arm64 w$wb: $arm"
  d86=$(sed -nE 's/.*"digest":"([0-9a-f]+)".*/\1/p' <<<"${x86[$wb]}")
  darm=$(sed -nE 's/.*"digest":"([0-9a-f]+)".*/\1/p' <<<"$arm")
  if [ -n "$d86" ] && [ "$d86" = "$darm" ] && grep -q '"identical":true' <<<"$arm"; then
    passed=$((passed + 1))
    echo "arm64 end-to-end w$wb: identical to x86 ($darm)"
  else
    failed=$((failed + 1))
    echo "arm64 end-to-end w$wb: MISMATCH (x86 $d86, arm64 $darm)"
  fi
done
rm -rf "$tmp" "$log"
status=ok
[ "$failed" -eq 0 ] || status=FAILED
echo "$status | $passed passed | $failed failed (arm64)"
[ "$failed" -eq 0 ]
