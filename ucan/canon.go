package ucan

import (
	"bytes"
	"fmt"

	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/ipvm-go/ipvm/spec"
)

// decodeLenient decodes DAG-CBOR that is well formed but not canonical
// (go-ipld-prime accepts map keys in any order and non-minimal heads; it
// refuses duplicate keys) into the spec value model, under the same
// limits as the strict decoder. The caller re-encodes the value
// canonically, so nothing downstream ever sees the non-canonical bytes.
func decodeLenient(b []byte, lim spec.Limits) (any, error) {
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("%w: %v", spec.ErrMalformed, err)
	}
	items := 0
	return fromNode(nb.Build(), 0, &items, lim)
}

func fromNode(n datamodel.Node, depth int, items *int, lim spec.Limits) (any, error) {
	*items++
	if depth > lim.MaxDepth || *items > lim.MaxItems {
		return nil, fmt.Errorf("%w: nesting or item count", spec.ErrTooLarge)
	}
	switch n.Kind() {
	case datamodel.Kind_Null:
		return nil, nil
	case datamodel.Kind_Bool:
		return n.AsBool()
	case datamodel.Kind_Int:
		return n.AsInt()
	case datamodel.Kind_Float:
		return n.AsFloat()
	case datamodel.Kind_String:
		return n.AsString()
	case datamodel.Kind_Bytes:
		return n.AsBytes()
	case datamodel.Kind_Link:
		l, err := n.AsLink()
		if err != nil {
			return nil, err
		}
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("%w: link of type %T", spec.ErrMalformed, l)
		}
		return cl.Cid, nil
	case datamodel.Kind_List:
		out := make([]any, 0, n.Length())
		for it := n.ListIterator(); !it.Done(); {
			_, v, err := it.Next()
			if err != nil {
				return nil, err
			}
			x, err := fromNode(v, depth+1, items, lim)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case datamodel.Kind_Map:
		out := make(map[string]any, n.Length())
		for it := n.MapIterator(); !it.Done(); {
			k, v, err := it.Next()
			if err != nil {
				return nil, err
			}
			ks, err := k.AsString()
			if err != nil {
				return nil, err
			}
			x, err := fromNode(v, depth+1, items, lim)
			if err != nil {
				return nil, err
			}
			out[ks] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: IPLD kind %s", spec.ErrMalformed, n.Kind())
}
