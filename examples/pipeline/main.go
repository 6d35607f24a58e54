//go:build wasip1

// Command pipeline is a guest module on ipvm's DAG-CBOR ABI (SPEC §6.3),
// built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared. It needs no SDK:
// cbor.go is the small part of DAG-CBOR it uses. Its three functions chain
// in examples/pipeline.json: fetch reads a blob by link through the ipvm
// host import, words transforms the text, and hash digests the result.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unsafe"
)

func main() {}

// pinned keeps buffers handed to the host alive until the next call.
var pinned [][]byte

// alloc returns a buffer of n bytes for the host to write the params into.
//
//go:wasmexport alloc
func alloc(n uint32) unsafe.Pointer {
	b := make([]byte, max(n, 1))
	pinned = append(pinned, b)
	return unsafe.Pointer(&b[0])
}

//go:wasmimport ipvm blob_len
func blobLen(cidPtr unsafe.Pointer, cidLen uint32) int64

//go:wasmimport ipvm blob_read
func blobRead(cidPtr unsafe.Pointer, cidLen uint32, dst unsafe.Pointer, off, n uint32) uint32

// call splits the params list into its items' DAG-CBOR, runs f and returns
// the packed (ptr<<32 | len) of f's DAG-CBOR output. A panic traps the task.
func call(ptr unsafe.Pointer, n uint32, f func(params [][]byte) []byte) uint64 {
	out := f(items(unsafe.Slice((*byte)(ptr), n)))
	pinned = append(pinned[:0], out)
	return uint64(uintptr(unsafe.Pointer(&out[0])))<<32 | uint64(len(out))
}

// fetch([link]) -> string: the linked blob's bytes as text.
//
//go:wasmexport fetch
func fetch(ptr unsafe.Pointer, n uint32) uint64 {
	return call(ptr, n, func(params [][]byte) []byte {
		key := link(params[0])
		size := blobLen(unsafe.Pointer(&key[0]), uint32(len(key)))
		buf := make([]byte, size)
		for off := uint32(0); off < uint32(size); {
			off += blobRead(unsafe.Pointer(&key[0]), uint32(len(key)), unsafe.Pointer(&buf[off]), off, uint32(size)-off)
		}
		return appendText(nil, 3, string(buf))
	})
}

// words([text]) -> {"text": upper-cased text, "words": word count}.
//
//go:wasmexport words
func words(ptr unsafe.Pointer, n uint32) uint64 {
	return call(ptr, n, func(params [][]byte) []byte {
		s := text(params[0])
		out := appendHead(nil, 5, 2) // map of 2; keys in DAG-CBOR order
		out = appendText(out, 3, "text")
		out = appendText(out, 3, strings.ToUpper(s))
		out = appendText(out, 3, "words")
		return appendHead(out, 0, uint64(len(strings.Fields(s))))
	})
}

// hash([value]) -> string: the hex sha2-256 of the value's DAG-CBOR (the
// params arrive canonical, so an item's bytes are its canonical form).
//
//go:wasmexport hash
func hash(ptr unsafe.Pointer, n uint32) uint64 {
	return call(ptr, n, func(params [][]byte) []byte {
		d := sha256.Sum256(params[0])
		return appendText(nil, 3, hex.EncodeToString(d[:]))
	})
}
