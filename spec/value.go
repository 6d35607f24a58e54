package spec

import (
	"bytes"
	"fmt"
	"math"

	"github.com/ipfs/go-cid"
)

// Normalize returns v with Go integer and float types widened to int64 and
// float64. It does not descend into lists and maps; encoders normalise as
// they go.
func Normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint8:
		return int64(x)
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x)
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case float32:
		return float64(x)
	case *cid.Cid:
		if x == nil {
			return nil
		}
		return *x
	case Marshaler:
		return x.IPLD()
	}
	return v
}

// Equal reports whether two values are the same IPLD value. An int64 and a
// float64 are never equal, as their encodings differ.
func Equal(a, b any) bool {
	a, b = Normalize(a), Normalize(b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, int64, float64, string:
		return a == b
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case cid.Cid:
		y, ok := b.(cid.Cid)
		return ok && x.Equals(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// Kind names the IPLD kind of v, for error messages.
func Kind(v any) string {
	switch Normalize(v).(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case cid.Cid:
		return "link"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("unsupported(%T)", v)
}
