package unixfs

import (
	"context"
	"errors"
	"io"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Import parameters of `ipfs add --cid-version=1` (kubo's defaults). They are
// constants here rather than boxo's package variables, which profiles may
// change at run time.
const (
	// ChunkSize is the fixed chunk size in bytes.
	ChunkSize = 256 << 10
	// MaxLinks is the most links an interior node of the balanced tree has.
	MaxLinks = 174
)

// PutFunc stores one block under its CID. Add calls it once per block, leaves
// first and the root last.
type PutFunc func(ctx context.Context, c cid.Cid, b []byte) error

// GetFunc returns the bytes of one block. It returns an error when the block
// is not available; Cat wraps it.
type GetFunc func(ctx context.Context, c cid.Cid) ([]byte, error)

// Add reads r to its end, chunks it and writes the UnixFS DAG through put. It
// returns the root CID and the number of bytes read. The CID is the one
// `ipfs add --cid-version=1` prints for the same bytes. Add stops at the
// first error of r, put or ctx; blocks already put stay where put wrote them.
func Add(ctx context.Context, r io.Reader, put PutFunc) (root cid.Cid, size uint64, err error) {
	cr := &countingReader{ctx: ctx, r: r}
	params := helpers.DagBuilderParams{
		Maxlinks:   MaxLinks,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    &putService{ctx: ctx, put: put},
	}
	db, err := params.New(chunker.NewSizeSplitter(cr, ChunkSize))
	if err != nil {
		return cid.Undef, 0, err
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		return cid.Undef, 0, err
	}
	return nd.Cid(), cr.n, nil
}

// countingReader counts bytes and stops reading when ctx is done, so a slow or
// endless reader does not outlive the caller.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

// errWriteOnly is returned by the read half of putService, which the importer
// never uses.
var errWriteOnly = errors.New("unixfs: importer DAG service is write-only")

// putService adapts a PutFunc to the ipld.DAGService the boxo importer writes
// to. The importer calls Add without a context of its own (context.TODO), so
// the service carries the caller's.
type putService struct {
	ctx context.Context
	put PutFunc
}

func (s *putService) Add(_ context.Context, nd ipld.Node) error {
	return s.put(s.ctx, nd.Cid(), nd.RawData())
}

func (s *putService) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		if err := s.Add(ctx, nd); err != nil {
			return err
		}
	}
	return nil
}

func (s *putService) Get(context.Context, cid.Cid) (ipld.Node, error) {
	return nil, errWriteOnly
}

func (s *putService) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption, 1)
	ch <- &ipld.NodeOption{Err: errWriteOnly}
	close(ch)
	return ch
}

func (s *putService) Remove(context.Context, cid.Cid) error { return errWriteOnly }

func (s *putService) RemoveMany(context.Context, []cid.Cid) error { return errWriteOnly }
