// Package p2p is ipvm's peer-to-peer layer: a go-libp2p host (TCP and QUIC,
// Noise and TLS, resource and connection managers), a private Kademlia DHT
// under the /ipvm protocol prefix, and the request/response protocols that
// move receipts (/ipvm/receipt/1.0.0) and blocks (/ipvm/block/1.0.0) between
// nodes by CID.
//
// Every protocol uses the same framing (one uvarint-length-prefixed request
// frame, one response frame), a size cap per protocol, a deadline on every
// stream and a bound on concurrent inbound streams per peer and per protocol.
// A peer that breaks the framing is disconnected and its score lowered; a
// peer whose answers do not verify has its score lowered; peers below the
// score threshold are refused for a while, and peers on the configured block
// list are never used.
//
// Nothing fetched from the network is trusted: receipts go through
// Config.VerifyReceipt and blocks are hash-checked against their CID before
// they are returned.
//
// Usage:
//
//	h, err := p2p.New(ctx, p2p.Config{
//		Identity:      priv, // crypto.UnmarshalEd25519PrivateKey(key.Private())
//		Bootstrap:     []string{"/ip4/10.0.0.1/tcp/4001/p2p/12D3Koo..."},
//		Receipts:      store, // serves /ipvm/receipt/1.0.0
//		Blocks:        store, // serves /ipvm/block/1.0.0
//		VerifyReceipt: verify,
//	})
//	defer h.Close()
//	_ = h.Provide(ctx, taskCID) // after storing a receipt
//	f, err := h.FetchReceipt(ctx, taskCID)
package p2p
