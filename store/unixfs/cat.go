package unixfs

import (
	"bytes"
	"context"
	"fmt"
	"io"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	pb "github.com/ipfs/boxo/ipld/unixfs/pb"
	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// MaxDepth is the deepest file DAG Cat reads. A balanced tree of 174-link
// nodes over 256 KiB chunks holds about 50 TB at depth 5; anything deeper
// than MaxDepth is refused as malformed.
const MaxDepth = 32

// Cat returns the bytes of the UnixFS file (or raw block) root, reading blocks
// through get. Every block is checked against its CID, and a file larger than
// max bytes is refused with ErrTooLarge (max < 0 means no cap).
func Cat(ctx context.Context, root cid.Cid, get GetFunc, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := CatTo(ctx, &buf, root, get, max); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CatTo writes the bytes of the file root to w as it reads them and returns
// how many it wrote. It checks what Cat checks; on an error, w may already
// hold a prefix of the file. max < 0 means no cap.
func CatTo(ctx context.Context, w io.Writer, root cid.Cid, get GetFunc, max int64) (int64, error) {
	r := &reader{get: get, w: w, max: max}
	if _, err := r.walk(ctx, root, 0, -1); err != nil {
		return r.n, err
	}
	return r.n, nil
}

// Size returns the size in bytes of the file root from its root block alone
// (the filesize field of a dag-pb root, the length of a raw one), without
// reading the rest of the DAG. The root block is verified; the claimed size
// of a dag-pb root is not (Cat checks it when it reads the file).
func Size(ctx context.Context, root cid.Cid, get GetFunc) (uint64, error) {
	b, err := getVerified(ctx, root, get)
	if err != nil {
		return 0, err
	}
	switch root.Type() {
	case cid.Raw:
		return uint64(len(b)), nil
	case cid.DagProtobuf:
		fs, _, err := decodeFile(root, b)
		if err != nil {
			return 0, err
		}
		return fs.FileSize(), nil
	default:
		return 0, fmt.Errorf("%w: %s has codec 0x%x, want raw or dag-pb", ErrMalformed, root, root.Type())
	}
}

// reader walks a file DAG depth-first, writing leaf bytes in order.
type reader struct {
	get GetFunc
	w   io.Writer
	max int64
	n   int64 // bytes written so far
}

// walk writes the bytes of the subtree c and returns how many it wrote. want
// is the size the parent's blocksizes claim for c, or -1 at the root.
func (r *reader) walk(ctx context.Context, c cid.Cid, depth int, want int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if depth > MaxDepth {
		return 0, fmt.Errorf("%w: deeper than %d levels at %s", ErrMalformed, MaxDepth, c)
	}
	if want >= 0 && r.max >= 0 && r.n+want > r.max {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.max)
	}
	b, err := getVerified(ctx, c, r.get)
	if err != nil {
		return 0, err
	}
	switch c.Type() {
	case cid.Raw:
		return r.write(c, b, want)
	case cid.DagProtobuf:
	default:
		return 0, fmt.Errorf("%w: %s has codec 0x%x, want raw or dag-pb", ErrMalformed, c, c.Type())
	}
	fs, nd, err := decodeFile(c, b)
	if err != nil {
		return 0, err
	}
	size := int64(fs.FileSize())
	if size < 0 || (want >= 0 && size != want) {
		return 0, fmt.Errorf("%w: %s has filesize %d, its parent says %d", ErrMalformed, c, fs.FileSize(), want)
	}
	if r.max >= 0 && r.n+size > r.max {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.max)
	}
	links := nd.Links()
	if len(links) != fs.NumChildren() {
		return 0, fmt.Errorf("%w: %s has %d links and %d blocksizes", ErrMalformed, c, len(links), fs.NumChildren())
	}
	start := r.n
	if _, err := r.write(c, fs.Data(), -1); err != nil {
		return 0, err
	}
	for i, l := range links {
		bs := fs.BlockSize(i)
		// A zero-sized child would let a small DAG make Cat visit a huge
		// number of blocks while writing nothing; ipfs never writes one.
		if bs == 0 || int64(bs) < 0 {
			return 0, fmt.Errorf("%w: %s link %d has blocksize %d", ErrMalformed, c, i, bs)
		}
		if _, err := r.walk(ctx, l.Cid, depth+1, int64(bs)); err != nil {
			return 0, err
		}
	}
	if got := r.n - start; got != size {
		return 0, fmt.Errorf("%w: %s has filesize %d but holds %d bytes", ErrMalformed, c, size, got)
	}
	return size, nil
}

// write copies leaf bytes to the output, checking the cap and the size the
// parent claims (want, or -1 for no claim).
func (r *reader) write(c cid.Cid, b []byte, want int64) (int64, error) {
	if want >= 0 && int64(len(b)) != want {
		return 0, fmt.Errorf("%w: %s holds %d bytes, its parent says %d", ErrMalformed, c, len(b), want)
	}
	if r.max >= 0 && r.n+int64(len(b)) > r.max {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.max)
	}
	n, err := r.w.Write(b)
	r.n += int64(n)
	if err != nil {
		return int64(n), err
	}
	return int64(n), nil
}

// getVerified fetches c and checks that the bytes hash to it.
func getVerified(ctx context.Context, c cid.Cid, get GetFunc) ([]byte, error) {
	b, err := get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("unixfs: get %s: %w", c, err)
	}
	if err := spec.VerifyCID(c, b); err != nil {
		return nil, fmt.Errorf("unixfs: block %s: %w", c, err)
	}
	return b, nil
}

// decodeFile decodes a dag-pb block holding a UnixFS file or raw node.
func decodeFile(c cid.Cid, b []byte) (*ft.FSNode, *dag.ProtoNode, error) {
	nd, err := dag.DecodeProtobuf(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrMalformed, c, err)
	}
	fs, err := ft.FSNodeFromBytes(nd.Data())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrMalformed, c, err)
	}
	switch fs.Type() {
	case pb.Data_File, pb.Data_Raw:
		return fs, nd, nil
	default:
		return nil, nil, fmt.Errorf("%w: %s is a UnixFS %s", ErrNotFile, c, fs.Type())
	}
}
