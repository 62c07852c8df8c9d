#!/usr/bin/env bash
# CI smoke run: builds the fuzz targets and runs each one for 20 seconds, one
# after the other, from its seed corpus. Exits non-zero if the build fails or
# any target finds a crash, a panic, a leak or a timeout.
#
#   bash fuzz/smoke.sh            # from the repository root, or from fuzz/
#   SMOKE_SECONDS=60 bash fuzz/smoke.sh
#
# Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${SMOKE_SECONDS:-20}"
targets=(signature_header verify one_reader secret_parse stored_delivery body_limit lambda_event)

cargo +nightly fuzz build -a

status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "=== $target: ${seconds}s"
    dict=()
    if [[ -f "$target.dict" ]]; then dict=(-dict="$target.dict"); fi
    if ! cargo +nightly fuzz run -a "$target" "corpus/$target" "seeds/$target" -- "${dict[@]}" \
        -max_total_time="$seconds" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1; then
        echo "=== $target: FINDING (see fuzz/artifacts/$target/)" >&2
        status=1
    fi
done
exit "$status"
