package unixfs

import (
	"context"
	"errors"
	"testing"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipvm-go/ipvm/spec"
)

// FuzzCat reads a fuzzed dag-pb root block whose links may point at three
// small known leaves and at the root of a small valid file. Cat must not
// panic, must keep to its cap, and must return exactly filesize bytes when
// it succeeds.
func FuzzCat(f *testing.F) {
	ctx := context.Background()
	bs := newBlocks()
	var leaves []cid.Cid
	for _, s := range []string{"abc", "defg", ""} {
		c := spec.Sum(spec.CodecRaw, []byte(s))
		_ = bs.put(ctx, c, []byte(s))
		leaves = append(leaves, c)
	}
	node := func(data []byte, sizes []uint64, links ...cid.Cid) []byte {
		fs := ft.NewFSNode(ft.TFile)
		fs.SetData(data)
		for _, s := range sizes {
			fs.AddBlockSize(s)
		}
		b, err := fs.GetBytes()
		if err != nil {
			f.Fatal(err)
		}
		nd := dag.NodeWithData(b)
		nd.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
		for _, l := range links {
			if err := nd.AddRawLink("", &ipld.Link{Cid: l}); err != nil {
				f.Fatal(err)
			}
		}
		return nd.RawData()
	}
	inner := node([]byte("xy"), []uint64{3, 4}, leaves[0], leaves[1])
	innerCID := spec.Sum(spec.CodecDagPB, inner)
	_ = bs.put(ctx, innerCID, inner)

	f.Add(inner)
	f.Add(node(nil, []uint64{9, 3}, innerCID, leaves[0]))
	f.Add(node([]byte("only data"), nil))
	f.Add(node(nil, []uint64{0}, leaves[2]))
	f.Add(node(nil, []uint64{3}, leaves[0], leaves[1]))
	f.Add(node(nil, []uint64{9, 9, 9, 9}, innerCID, innerCID, innerCID, innerCID))

	const capBytes = 64
	f.Fuzz(func(t *testing.T, root []byte) {
		c := spec.Sum(spec.CodecDagPB, root)
		get := func(ctx context.Context, k cid.Cid) ([]byte, error) {
			if k.Equals(c) {
				return root, nil
			}
			return bs.get(ctx, k)
		}
		out, err := Cat(ctx, c, get, capBytes)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotFile) && !errors.Is(err, ErrTooLarge) &&
				!errors.Is(err, errMissing) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(out) > capBytes {
			t.Fatalf("Cat returned %d bytes over a cap of %d", len(out), capBytes)
		}
		n, err := Size(ctx, c, get)
		if err != nil || n != uint64(len(out)) {
			t.Fatalf("Size = %d, %v; Cat returned %d bytes", n, err, len(out))
		}
	})
}
