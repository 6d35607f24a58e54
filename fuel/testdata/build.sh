#!/bin/sh
# Rebuilds the committed test modules of package fuel. Needs wabt's wat2wasm
# (apt-get install wabt) and Go. Run from anywhere.
set -eu
cd "$(dirname "$0")"
for f in wat/*.wat; do
	wat2wasm "$f" -o "${f%.wat}.wasm"
done
(cd gosha && GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o ../gosha.wasm .)
