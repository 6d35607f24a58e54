//go:build wasip1

package main

// The DAG-CBOR this guest needs: split a list into items, read a text
// string or a link, write heads and strings. Malformed input panics, which
// traps the task.

// head reads a CBOR head at b[i:] and returns major type, argument, and the
// index after the head.
func head(b []byte, i int) (major byte, arg uint64, next int) {
	major, info := b[i]>>5, b[i]&0x1f
	i++
	switch {
	case info < 24:
		return major, uint64(info), i
	case info <= 27:
		n := 1 << (info - 24)
		for _, c := range b[i : i+n] {
			arg = arg<<8 | uint64(c)
		}
		return major, arg, i + n
	}
	panic("unsupported CBOR head")
}

// skip returns the index after the item at b[i:].
func skip(b []byte, i int) int {
	major, arg, i := head(b, i)
	switch major {
	case 2, 3:
		return i + int(arg)
	case 4:
		for ; arg > 0; arg-- {
			i = skip(b, i)
		}
	case 5:
		for ; arg > 0; arg-- {
			i = skip(b, skip(b, i))
		}
	case 6:
		return skip(b, i)
	}
	return i
}

// items splits a DAG-CBOR list into the encodings of its items.
func items(b []byte) [][]byte {
	major, n, i := head(b, 0)
	if major != 4 {
		panic("params are not a list")
	}
	out := make([][]byte, 0, n)
	for ; n > 0; n-- {
		j := skip(b, i)
		out = append(out, b[i:j])
		i = j
	}
	return out
}

// text reads a text string item.
func text(b []byte) string {
	major, n, i := head(b, 0)
	if major != 3 {
		panic("want a string")
	}
	return string(b[i : i+int(n)])
}

// link reads a link item (tag 42, bytes with a 0x00 prefix) as CID bytes.
func link(b []byte) []byte {
	major, tag, i := head(b, 0)
	if major != 6 || tag != 42 {
		panic("want a link")
	}
	major, n, i := head(b, i)
	if major != 2 || n < 2 || b[i] != 0 {
		panic("bad link")
	}
	return b[i+1 : i+int(n)]
}

// appendHead appends a CBOR head in its shortest form.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, m|27)
	for s := 56; s >= 0; s -= 8 {
		b = append(b, byte(n>>s))
	}
	return b
}

// appendText appends a string of the given major type (2 bytes, 3 text).
func appendText(b []byte, major byte, s string) []byte {
	return append(appendHead(b, major, uint64(len(s))), s...)
}
