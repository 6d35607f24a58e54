package unixfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipvm-go/ipvm/spec"
)

// vectors is the Homestar fixture folder, beside the repository.
const vectors = "../../../shared/vectors/homestar"

// errMissing is the error of blocks.get for a CID it does not hold.
var errMissing = errors.New("not here")

// blocks is an in-memory block map used as the put/get pair of the tests.
type blocks struct {
	mu   sync.Mutex
	m    map[cid.Cid][]byte
	gets int
}

func newBlocks() *blocks { return &blocks{m: map[cid.Cid][]byte{}} }

func (b *blocks) put(_ context.Context, c cid.Cid, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[c] = bytes.Clone(data)
	return nil
}

func (b *blocks) get(_ context.Context, c cid.Cid) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets++
	data, ok := b.m[c]
	if !ok {
		return nil, fmt.Errorf("block %s: %w", c, errMissing)
	}
	return data, nil
}

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatalf("vectors not available (../shared must be beside the checkout): %v", err)
	}
	return b
}

// TestAddVectors checks the CIDs Homestar's workflows link, which are the ones
// `ipfs add --cid-version=1` prints for these files.
func TestAddVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		{"example_test.wasm", "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"},
		{"synthcat.png", "bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readVector(t, tc.file)
			bs := newBlocks()
			root, size, err := Add(context.Background(), bytes.NewReader(data), bs.put)
			if err != nil {
				t.Fatal(err)
			}
			if root.String() != tc.want {
				t.Errorf("root = %s, want %s", root, tc.want)
			}
			if size != uint64(len(data)) {
				t.Errorf("size = %d, want %d", size, len(data))
			}
			wantBlocks := (len(data)+ChunkSize-1)/ChunkSize + 1 // leaves and one root
			if len(bs.m) != wantBlocks {
				t.Errorf("%d blocks written, want %d", len(bs.m), wantBlocks)
			}
			got, err := Cat(context.Background(), root, bs.get, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Error("Cat returned other bytes than were added")
			}
			n, err := Size(context.Background(), root, bs.get)
			if err != nil || n != uint64(len(data)) {
				t.Errorf("Size = %d, %v; want %d", n, err, len(data))
			}
		})
	}
}

// TestAddShapes covers the layout boundaries: empty, one chunk (a raw leaf
// root), just over one chunk (a dag-pb root), and more chunks than one node
// can link (a two-level tree).
func TestAddShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name    string
		size    int
		rawRoot bool
	}{
		{"empty", 0, true},
		{"one byte", 1, true},
		{"one chunk", ChunkSize, true},
		{"chunk plus one", ChunkSize + 1, false},
		{"two levels", (MaxLinks+1)*ChunkSize + 7, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			bs := newBlocks()
			root, size, err := Add(context.Background(), bytes.NewReader(data), bs.put)
			if err != nil {
				t.Fatal(err)
			}
			if size != uint64(tc.size) {
				t.Errorf("size = %d, want %d", size, tc.size)
			}
			if root.Version() != 1 {
				t.Errorf("root %s is not CIDv1", root)
			}
			if tc.rawRoot {
				// A single chunk is stored as a raw block whose CID is the
				// plain sha2-256 of the bytes.
				if want := spec.Sum(spec.CodecRaw, data); !root.Equals(want) {
					t.Errorf("root = %s, want raw leaf %s", root, want)
				}
				if !strings.HasPrefix(root.String(), "bafkrei") {
					t.Errorf("root %s is not a bafkrei… raw leaf", root)
				}
			} else if root.Type() != cid.DagProtobuf {
				t.Errorf("root %s is not dag-pb", root)
			}
			for c, b := range bs.m {
				if err := spec.VerifyCID(c, b); err != nil {
					t.Errorf("block %s: %v", c, err)
				}
			}
			var out bytes.Buffer
			n, err := CatTo(context.Background(), &out, root, bs.get, -1)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(tc.size) || !bytes.Equal(out.Bytes(), data) {
				t.Errorf("CatTo wrote %d bytes, not the %d added", n, tc.size)
			}
		})
	}
}

// TestSizeReadsRootOnly checks that Size needs the root block alone.
func TestSizeReadsRootOnly(t *testing.T) {
	data := bytes.Repeat([]byte("ipvm"), ChunkSize) // 4 chunks
	bs := newBlocks()
	root, _, err := Add(context.Background(), bytes.NewReader(data), bs.put)
	if err != nil {
		t.Fatal(err)
	}
	bs.gets = 0
	n, err := Size(context.Background(), root, bs.get)
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(data)) || bs.gets != 1 {
		t.Errorf("Size = %d after %d gets, want %d after 1", n, bs.gets, len(data))
	}
}

// TestCatRefuses is the table of DAGs Cat must not return.
func TestCatRefuses(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte{7}, 3*ChunkSize+5)
	add := func(bs *blocks) cid.Cid {
		root, _, err := Add(ctx, bytes.NewReader(data), bs.put)
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	firstLeaf := func(bs *blocks, root cid.Cid) cid.Cid {
		nd, err := dag.DecodeProtobuf(bs.m[root])
		if err != nil {
			t.Fatal(err)
		}
		return nd.Links()[0].Cid
	}
	// pbNode stores a dag-pb node with the given UnixFS data and links.
	pbNode := func(bs *blocks, fsData []byte, links ...cid.Cid) cid.Cid {
		nd := dag.NodeWithData(fsData)
		nd.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
		for i, l := range links {
			if err := nd.AddRawLink(fmt.Sprint(i), &ipld.Link{Cid: l}); err != nil {
				t.Fatal(err)
			}
		}
		_ = bs.put(ctx, nd.Cid(), nd.RawData())
		return nd.Cid()
	}

	for _, tc := range []struct {
		name  string
		setup func(bs *blocks) cid.Cid
		max   int64
		want  error
		msg   string
	}{
		{"over the cap", add, int64(len(data)) - 1, ErrTooLarge, ""},
		{"corrupt leaf", func(bs *blocks) cid.Cid {
			root := add(bs)
			leaf := firstLeaf(bs, root)
			bs.m[leaf] = append([]byte{1}, bs.m[leaf][1:]...)
			return root
		}, -1, nil, "hash"},
		{"corrupt root", func(bs *blocks) cid.Cid {
			root := add(bs)
			bs.m[root] = append(bytes.Clone(bs.m[root]), 0)
			return root
		}, -1, nil, "hash"},
		{"missing leaf", func(bs *blocks) cid.Cid {
			root := add(bs)
			delete(bs.m, firstLeaf(bs, root))
			return root
		}, -1, nil, "not here"},
		{"directory", func(bs *blocks) cid.Cid {
			return pbNode(bs, ft.FolderPBData())
		}, -1, ErrNotFile, ""},
		{"dag-cbor root", func(bs *blocks) cid.Cid {
			b, _ := spec.EncodeCBOR(map[string]any{"a": int64(1)})
			c := spec.SumCBOR(b)
			_ = bs.put(ctx, c, b)
			return c
		}, -1, ErrMalformed, ""},
		{"not dag-pb bytes", func(bs *blocks) cid.Cid {
			b := []byte{0xff, 0xff, 0xff}
			c := spec.Sum(spec.CodecDagPB, b)
			_ = bs.put(ctx, c, b)
			return c
		}, -1, ErrMalformed, ""},
		{"filesize lies", func(bs *blocks) cid.Cid {
			leaf := spec.Sum(spec.CodecRaw, []byte("abc"))
			_ = bs.put(ctx, leaf, []byte("abc"))
			fs := ft.NewFSNode(ft.TFile)
			fs.AddBlockSize(4) // the leaf holds 3
			b, _ := fs.GetBytes()
			return pbNode(bs, b, leaf)
		}, -1, ErrMalformed, ""},
		{"zero blocksize", func(bs *blocks) cid.Cid {
			leaf := spec.Sum(spec.CodecRaw, nil)
			_ = bs.put(ctx, leaf, nil)
			fs := ft.NewFSNode(ft.TFile)
			fs.AddBlockSize(0)
			b, _ := fs.GetBytes()
			return pbNode(bs, b, leaf)
		}, -1, ErrMalformed, ""},
		{"links without blocksizes", func(bs *blocks) cid.Cid {
			leaf := spec.Sum(spec.CodecRaw, []byte("abc"))
			_ = bs.put(ctx, leaf, []byte("abc"))
			b, _ := ft.NewFSNode(ft.TFile).GetBytes()
			return pbNode(bs, b, leaf)
		}, -1, ErrMalformed, ""},
		{"too deep", func(bs *blocks) cid.Cid {
			c := spec.Sum(spec.CodecRaw, []byte("x"))
			_ = bs.put(ctx, c, []byte("x"))
			for range MaxDepth + 1 {
				fs := ft.NewFSNode(ft.TFile)
				fs.AddBlockSize(1)
				b, _ := fs.GetBytes()
				c = pbNode(bs, b, c)
			}
			return c
		}, -1, ErrMalformed, "deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := newBlocks()
			root := tc.setup(bs)
			got, err := Cat(ctx, root, bs.get, tc.max)
			if err == nil {
				t.Fatalf("Cat returned %d bytes, want an error", len(got))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %q", err, tc.want)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

// TestAddStopsOnContext checks that Add gives up when its context ends.
func TestAddStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Add(ctx, io.LimitReader(zeros{}, 10*ChunkSize), newBlocks().put)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
