#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 3s).
# `make test` runs them briefly, so that a translator that panics on a shape
# its seeds never had fails CI; `make fuzz FUZZTIME=10m` searches for real.
# A crasher the fuzzer finds is written under the package's testdata/fuzz/,
# where `go test` replays it from then on as a regular test case.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
go=${GO:-go}
n=0
for pkg in $($go list ./...); do
  dir=$($go list -f '{{.Dir}}' "$pkg")
  grep -qs '^func Fuzz' "$dir"/*_test.go || continue
  for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($fuzztime)"
    # Go's fuzzer can end a clean run with "context deadline exceeded" when
    # -fuzztime runs out mid-input, writing no crasher:
    # such a run is tried once more. A run that wrote a failing input fails.
    for try in 1 2; do
      if $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fuzz.$$.log 2>&1; then break; fi
      if [ "$try" = 2 ] || grep -q 'Failing input written' /tmp/fuzz.$$.log || ! grep -q 'context deadline exceeded' /tmp/fuzz.$$.log; then
        cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1
      fi
      echo "fuzz: $target ended on the fuzzer's own deadline with no failing input; once more"
    done
    n=$((n + 1))
  done
done
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets, $fuzztime each, no failure"
