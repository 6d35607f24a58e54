package p2p

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/multiformats/go-varint"
)

// Response status bytes: the first byte of every response frame.
const (
	statusOK       byte = 0x00 // the rest of the frame is the answer
	statusNotFound byte = 0x01 // the rest is empty
	statusError    byte = 0x02 // the rest is a UTF-8 message
)

// maxErrorMessage caps the message of a statusError response.
const maxErrorMessage = 256

// appendFrame appends one frame, uvarint(len(p)) || p, to dst.
func appendFrame(dst, p []byte) []byte {
	dst = append(dst, varint.ToUvarint(uint64(len(p)))...)
	return append(dst, p...)
}

// writeFrame writes one frame in a single Write.
func writeFrame(w io.Writer, p []byte) error {
	_, err := w.Write(appendFrame(make([]byte, 0, len(p)+varint.MaxLenUvarint63), p))
	return err
}

// byteReader reads a stream one byte at a time, so that reading the length
// prefix never consumes bytes of the payload.
type byteReader struct {
	r   io.Reader
	buf [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.buf[:]); err != nil {
		return 0, err
	}
	return b.buf[0], nil
}

// readFrame reads one frame of at most max payload bytes. A declared length
// past max is refused before any payload is read (ErrFrameTooLarge); a
// non-minimal or overlong prefix is ErrBadFrame. The buffer grows as bytes
// arrive, so a peer that declares max and sends little costs little memory.
func readFrame(r io.Reader, max int) ([]byte, error) {
	n, err := varint.ReadUvarint(&byteReader{r: r})
	switch {
	case errors.Is(err, varint.ErrNotMinimal), errors.Is(err, varint.ErrOverflow):
		return nil, fmt.Errorf("%w: length prefix: %v", ErrBadFrame, err)
	case err != nil:
		return nil, err
	case n > uint64(max):
		return nil, fmt.Errorf("%w: %d bytes declared, cap %d", ErrFrameTooLarge, n, max)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(n, 64<<10)))
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// response builds a response payload: status byte then body.
func response(status byte, body []byte) []byte {
	out := make([]byte, 0, 1+len(body))
	return append(append(out, status), body...)
}

// parseResponse splits a response payload into its body or error.
func parseResponse(p []byte) ([]byte, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty response", ErrBadFrame)
	}
	switch p[0] {
	case statusOK:
		return p[1:], nil
	case statusNotFound:
		if len(p) != 1 {
			return nil, fmt.Errorf("%w: not-found response with a body", ErrBadFrame)
		}
		return nil, ErrNotFound
	case statusError:
		if len(p) > 1+maxErrorMessage {
			return nil, fmt.Errorf("%w: error message of %d bytes", ErrBadFrame, len(p)-1)
		}
		return nil, fmt.Errorf("%w: %q", ErrRemote, p[1:])
	default:
		return nil, fmt.Errorf("%w: unknown status 0x%02x", ErrBadFrame, p[0])
	}
}
