package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/ucan"
)

// Repo errors.
var (
	// ErrNoRepo is returned when a repo directory holds no key.
	ErrNoRepo = errors.New("node: no repo")
	// ErrBadConfig is returned when the config file does not parse or
	// holds invalid values.
	ErrBadConfig = errors.New("node: bad config")
)

// Files inside a repo directory.
const (
	KeyFile    = "key"         // the identity: base64 of the 32-byte Ed25519 seed, mode 0600
	ConfigFile = "config.json" // Config in JSON
	APIFile    = "api"         // the running daemon's API address, removed on exit
	StoreDir   = "store"       // the badger store
	CacheDir   = "cache"       // wazero's compilation cache
)

// EnvRepo names the environment variable that overrides the default repo
// path, like IPFS_PATH for kubo.
const EnvRepo = "IPVM_PATH"

// DefaultRepoPath returns $IPVM_PATH, or ~/.ipvm.
func DefaultRepoPath() string {
	if p := os.Getenv(EnvRepo); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ".ipvm"
	}
	return filepath.Join(home, ".ipvm")
}

// Repo is a node's directory: its identity, its config and its store.
type Repo struct {
	// Dir is the repo directory.
	Dir string
	// Key is the repo's identity.
	Key *ucan.Key
	// Config is the parsed config file.
	Config Config
}

// OpenRepo opens the repo in dir, creating it with a fresh key and a default
// config file when dir holds none. Nothing else is needed to set a node up.
func OpenRepo(dir string) (*Repo, error) {
	if dir == "" {
		dir = DefaultRepoPath()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("node: create repo %s: %w", dir, err)
	}
	key, err := loadOrCreateKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	cfg, err := loadOrCreateConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	return &Repo{Dir: dir, Key: key, Config: cfg}, nil
}

// Path returns the path of a file inside the repo.
func (r *Repo) Path(name string) string { return filepath.Join(r.Dir, name) }

// PeerID returns the libp2p peer ID of the repo's key.
func (r *Repo) PeerID() (peer.ID, error) { return PeerIDOf(r.Key) }

// PeerIDOf returns the libp2p peer ID of an identity key.
func PeerIDOf(k *ucan.Key) (peer.ID, error) {
	priv, err := Libp2pKey(k)
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(priv)
}

// Libp2pKey converts an identity key into a libp2p private key.
func Libp2pKey(k *ucan.Key) (crypto.PrivKey, error) {
	return crypto.UnmarshalEd25519PrivateKey(k.Private())
}

func loadOrCreateKey(path string) (*ucan.Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := ucan.GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := WriteKeyFile(path, k); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node: read key: %w", err)
	}
	return ParseKeyFile(b)
}

// WriteKeyFile writes k to path with mode 0600, atomically (a crash leaves
// the old file or the new one, never half of one).
func WriteKeyFile(path string, k *ucan.Key) error {
	return writeFileAtomic(path, []byte(encodeKey(k)+"\n"), 0o600)
}

// ParseKeyFile parses the contents of a key file.
func ParseKeyFile(b []byte) (*ucan.Key, error) {
	seed, err := decodeKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	return ucan.NewKey(seed)
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func loadOrCreateConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		cfg := DefaultConfig()
		out, _ := json.MarshalIndent(cfg, "", "  ")
		if err := writeFileAtomic(path, append(out, '\n'), 0o600); err != nil {
			return Config{}, err
		}
		return cfg, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("node: read config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses a config file; unknown fields are an error, so that a
// typo does not silently fall back to a default.
func ParseConfig(b []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
