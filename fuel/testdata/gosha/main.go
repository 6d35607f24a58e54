// Command gosha is a realistic guest for the fuel tests and benchmarks: it
// hashes 1 MiB of deterministic data with SHA-256 and prints the digest.
// Build it with ../build.sh (GOOS=wasip1 GOARCH=wasm).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
)

func main() {
	n := 1 << 20
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*31 + i>>8)
	}
	sum := sha256.Sum256(data)
	os.Stdout.WriteString(hex.EncodeToString(sum[:]) + "\n")
}
