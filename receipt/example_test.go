package receipt_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// An executor issues a receipt for a task; anyone holding the bytes
// decodes it and verifies it against the task they asked about.
func Example() {
	seed := sha256.Sum256([]byte("example executor"))
	key, _ := ucan.NewKey(seed[:])
	mod, _ := spec.ParseCID("bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq")
	task := invocation.NewWasm(mod, "add_one", 1)
	ran, _ := task.CID()

	s, err := receipt.Issue(key, receipt.Receipt{
		Ran:   ran,
		Out:   spec.OK(int64(2)),
		Meta:  map[string]any{"fuel": int64(120)},
		Nonce: []byte("example-nonce"), // normally omitted: Issue picks a random one
	})
	if err != nil {
		panic(err)
	}

	got, err := receipt.Decode(s.Bytes())
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Verify(ran), got.Out.Ok, got.CID() == s.CID())
	// Output: <nil> 2 true
}
