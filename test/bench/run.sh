#!/usr/bin/env bash
# make bench: installs what the benchmark needs (nginx from Debian, vegeta
# as the go.mod tool it is pinned as, Portkey's gateway from npm into
# test/bench/portkey), builds the proxy, then runs the
# driver (test/bench/cmd/bench), which writes docs/BENCHMARKS.md and
# docs/bench/. Everything it starts listens on 127.0.0.1 only, and every load
# round is bounded in time; the driver stops itself after -budget (9 min).
# Extra arguments go to the driver, e.g. `bash test/bench/run.sh -quick`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/bin
GO=${GO:-go}

die() { echo "bench: $*" >&2; exit 1; }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "bench: installing nginx (apt-get install -y nginx)"
  [ "$(id -u)" = 0 ] || die "nginx is missing and installing it needs root: apt-get install -y nginx"
  # Debian's package would start nginx on port 80; the bench runs its own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } ||
    die "could not install nginx with apt-get; install it and re-run"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found after install"

# vegeta is a tool of this module: go.mod pins its version, and `go tool -n`
# builds it into the Go build cache (once) and prints where.
VEGETA_VERSION=$("$GO" list -m -f '{{.Version}}' github.com/tsenart/vegeta/v12) || die "vegeta is not in go.mod"
VEGETA=$(GOOS= GOARCH= "$GO" tool -n vegeta) || die "could not build vegeta (go tool -n vegeta)"

# Portkey's AI gateway, a measured peer: the versions pinned in
# test/bench/portkey/package-lock.json, installed there (node_modules is
# git-ignored). --ignore-scripts: the bench runs no third-party install
# script (the package's postinstall is patch-package, with nothing to patch).
PORTKEY=$ROOT/test/bench/portkey
if [ ! -f "$PORTKEY/node_modules/@portkey-ai/gateway/build/start-server.js" ] ||
   [ "$PORTKEY/package-lock.json" -nt "$PORTKEY/node_modules/.package-lock.json" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "bench: installing Portkey's gateway (npm ci in test/bench/portkey)"
    (cd "$PORTKEY" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
      echo "bench: warning: npm ci failed; the Portkey rows will be pending" >&2
  else
    echo "bench: warning: npm not found; the Portkey rows will be pending (needs Node.js >= 20 and npm)" >&2
  fi
fi

command -v moto_server >/dev/null 2>&1 ||
  echo "bench: warning: moto_server not on PATH; the SSM cold-start rows will be pending (pip install 'moto[server]')" >&2

# The proxy as `make build` builds it (the Makefile target depends on build;
# building again here keeps `bash test/bench/run.sh` usable on its own).
CGO_ENABLED=0 "$GO" build -tags lambda.norpc -trimpath -o "$BIN/aiproxy" ./functions/aiproxy

CGO_ENABLED=0 "$GO" build -trimpath -o "$BIN/bench" ./test/bench/cmd/bench
cmdline="make bench (bash test/bench/run.sh$(printf ' %q' "$@"))"
[ $# -gt 0 ] || cmdline="make bench"
exec "$BIN/bench" -command "$cmdline" -root "$ROOT" -nginx "$NGINX" -vegeta "$VEGETA" -vegeta-version "$VEGETA_VERSION" -aiproxy "$BIN/aiproxy" "$@"
