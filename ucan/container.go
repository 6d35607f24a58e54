package ucan

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/ipvm-go/ipvm/spec"
)

// The UCAN container format (go-ucan's pkg/container, v0.1.0): one header
// byte naming the base encoding and compression, then the CBOR map
// {"ctn-v1": [token bytes, ...]}.
const (
	containerKey = "ctn-v1"

	ctnRaw           = 0x40 // '@' raw bytes
	ctnBase64        = 0x42 // 'B' base64 std, padded
	ctnBase64URL     = 0x43 // 'C' base64 url, unpadded
	ctnRawGzip       = 0x4D // 'M' raw bytes, gzip
	ctnBase64Gzip    = 0x4F // 'O' base64 std, padded, gzip
	ctnBase64URLGzip = 0x50 // 'P' base64 url, unpadded, gzip
)

// Container is a set of tokens carried together: at most one invocation
// and the delegations of its chain. It is what `Authorization: Bearer`
// and delegation files carry.
type Container struct {
	// Invocation is the container's invocation, or nil.
	Invocation *Token
	// Delegations are the container's delegations, in container order.
	Delegations []*Token
}

// Tokens returns the container's tokens, the invocation first.
func (c *Container) Tokens() []*Token {
	out := make([]*Token, 0, len(c.Delegations)+1)
	if c.Invocation != nil {
		out = append(out, c.Invocation)
	}
	return append(out, c.Delegations...)
}

// EncodeContainer returns tokens as a container in base64 (standard
// alphabet, padded, header 'B'), the text form for HTTP headers and files.
func EncodeContainer(tokens ...*Token) (string, error) {
	list := make([]any, len(tokens))
	for i, t := range tokens {
		list[i] = t.Bytes()
	}
	b, err := spec.EncodeCBOR(map[string]any{containerKey: list})
	if err != nil {
		return "", fmt.Errorf("ucan: encode container: %w", err)
	}
	return string(rune(ctnBase64)) + base64.StdEncoding.EncodeToString(b), nil
}

// DecodeContainer decodes a container in any of the format's six forms
// (leading and trailing white space ignored). The input and its decoded,
// decompressed CBOR are capped at lim.MaxContainerBytes and the token
// count at lim.MaxProofs+1; errors are *Error named TooLarge or
// Malformed, or the token decoding error.
func DecodeContainer(b []byte, lim Limits) (ctn *Container, err error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxContainerBytes {
		return nil, fail(NameTooLarge, "container of %d bytes, limit %d", len(b), lim.MaxContainerBytes)
	}
	defer func() {
		if r := recover(); r != nil {
			ctn, err = nil, fail(NameMalformed, "container decoder panic: %v", r)
		}
	}()
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fail(NameMalformed, "empty container")
	}
	h, body := b[0], b[1:]
	switch h {
	case ctnBase64, ctnBase64Gzip:
		if body, err = base64.StdEncoding.DecodeString(string(body)); err != nil {
			return nil, failWrap(NameMalformed, err, "container base64")
		}
	case ctnBase64URL, ctnBase64URLGzip:
		if body, err = base64.RawURLEncoding.DecodeString(string(body)); err != nil {
			return nil, failWrap(NameMalformed, err, "container base64url")
		}
	case ctnRaw, ctnRawGzip:
	default:
		return nil, fail(NameMalformed, "unknown container header 0x%02x", h)
	}
	if h == ctnRawGzip || h == ctnBase64Gzip || h == ctnBase64URLGzip {
		if body, err = gunzip(body, lim.MaxContainerBytes); err != nil {
			return nil, err
		}
	}
	slim := spec.Limits{MaxBytes: lim.MaxContainerBytes, MaxDepth: 4, MaxItems: lim.MaxProofs + 4}
	v, err := spec.DecodeCBOR(body, slim)
	if errors.Is(err, spec.ErrNotCanonical) {
		v, err = decodeLenient(body, slim)
	}
	if errors.Is(err, spec.ErrTooLarge) {
		return nil, failWrap(NameTooLarge, err, "container (at most %d tokens)", lim.MaxProofs+1)
	}
	if err != nil {
		return nil, failWrap(NameMalformed, err, "container")
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fail(NameMalformed, "container is not {%q: [...]}", containerKey)
	}
	list, ok := m[containerKey].([]any)
	if !ok {
		return nil, fail(NameMalformed, "container is not {%q: [...]}", containerKey)
	}
	if len(list) > lim.MaxProofs+1 {
		return nil, fail(NameTooLarge, "container of %d tokens, limit %d", len(list), lim.MaxProofs+1)
	}
	ctn = &Container{}
	for i, x := range list {
		tb, ok := x.([]byte)
		if !ok {
			return nil, fail(NameMalformed, "container entry %d is not bytes", i)
		}
		t, err := Decode(tb, lim)
		if err != nil {
			return nil, err
		}
		if t.Kind == KindInvocation {
			if ctn.Invocation != nil {
				return nil, fail(NameMalformed, "container holds more than one invocation")
			}
			ctn.Invocation = t
		} else {
			ctn.Delegations = append(ctn.Delegations, t)
		}
	}
	return ctn, nil
}

func gunzip(b []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, failWrap(NameMalformed, err, "container gzip")
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, failWrap(NameMalformed, err, "container gzip")
	}
	if len(out) > limit {
		return nil, fail(NameTooLarge, "container inflates past %d bytes", limit)
	}
	return out, nil
}

// ReadTokens decodes a file or header that holds either one token
// (DAG-CBOR) or a container, and returns its tokens (an invocation, if
// any, first).
func ReadTokens(b []byte, lim Limits) ([]*Token, error) {
	if len(b) > 0 && b[0] == 0x82 {
		// A token envelope is a 2-element CBOR array; no container header
		// is 0x82.
		tok, err := Decode(b, lim)
		if err != nil {
			return nil, err
		}
		return []*Token{tok}, nil
	}
	ctn, err := DecodeContainer(b, lim)
	if err != nil {
		return nil, err
	}
	return ctn.Tokens(), nil
}
