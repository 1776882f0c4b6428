package proof

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint signing keys.
//
// A Key is an Ed25519 signed-note key whose name is the log's origin, so a
// checkpoint names the log it speaks for and the key that signed it. The
// private half never leaves the Key: it has no exported field or method that
// returns it, and it formats (fmt, slog) as its public verifier key.

// KeyFileName and VerifierKeyFileName are the files LoadOrCreateKey keeps in
// its directory: the private signer key (mode 0600) and the public verifier
// key (for publication).
const (
	KeyFileName         = "audit-checkpoint.key"
	VerifierKeyFileName = "audit-checkpoint.pub"
)

// Key signs checkpoints for one log origin.
type Key struct {
	origin string
	signer note.Signer
	vkey   string
}

// Origin returns the log origin (also the key's name).
func (k *Key) Origin() string { return k.origin }

// VerifierKey returns the public key in signed-note verifier format
// ("<origin>+<hash>+<base64>"), the text auditors pass to verify bundles and
// receipts and that the portal publishes.
func (k *Key) VerifierKey() string { return k.vkey }

// String shows the public key only, so a Key printed by mistake leaks nothing.
func (k *Key) String() string { return "audit checkpoint key " + k.vkey }

// GoString keeps %#v from printing the signer.
func (k *Key) GoString() string { return k.String() }

// LogValue keeps slog from printing the signer.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.vkey) }

// ValidOrigin reports why origin cannot name a log and its key, or nil. The
// C2SP checkpoint format recommends a schema-less URL such as
// "approvals.example.com/audit"; the signed-note format forbids spaces and
// '+' in key names.
func ValidOrigin(origin string) error {
	switch {
	case origin == "":
		return errors.New("audit: origin is empty")
	case !utf8.ValidString(origin):
		return errors.New("audit: origin is not UTF-8")
	case strings.ContainsRune(origin, '+'):
		return fmt.Errorf("audit: origin %q must not contain '+'", origin)
	case strings.IndexFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("audit: origin %q must not contain spaces or control characters", origin)
	}
	return nil
}

// OriginFromURL derives a log origin from the portal's public URL: host and
// path without scheme, plus "/audit" ("https://cs.example.com" →
// "cs.example.com/audit"), as the checkpoint format recommends.
func OriginFromURL(publicURL string) string {
	o := publicURL
	if _, rest, ok := strings.Cut(o, "://"); ok {
		o = rest
	}
	return strings.TrimRight(o, "/") + "/audit"
}

// GenerateKey returns a new key for origin and its private signer key text
// ("PRIVATE+KEY+…"), for operators who keep the key in configuration or a
// secret store rather than a file.
func GenerateKey(origin string) (*Key, string, error) {
	if err := ValidOrigin(origin); err != nil {
		return nil, "", err
	}
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, "", fmt.Errorf("audit: generate key: %w", err)
	}
	k, err := ParseKey(skey)
	if err != nil {
		return nil, "", err
	}
	return k, skey, nil
}

// ParseKey reads a private signer key in signed-note format
// ("PRIVATE+KEY+<origin>+<hash>+<base64>"), as kept in configuration; several
// replicas sharing one database should share one key this way. Errors never
// quote the key.
func ParseKey(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint signing key is not a valid signed-note private key: %w", err)
	}
	// note has no call that derives the verifier key, so take the seed
	// from the (already validated) encoding.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("audit: checkpoint signing key is not an Ed25519 signed-note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("audit: derive verifier key: %w", err)
	}
	if err := ValidOrigin(signer.Name()); err != nil {
		return nil, err
	}
	return &Key{origin: signer.Name(), signer: signer, vkey: vkey}, nil
}

// LoadOrCreateKey returns the checkpoint key kept in dir, creating it at
// first start: the private key in KeyFileName (mode 0600, refused if others
// may read it) and the verifier key in VerifierKeyFileName. Processes
// starting together on one directory end up with the same key: the file is
// written aside and linked into place, and whoever loses the race reads the
// winner's. A key made for another origin is an error rather than a silent
// new key, because auditors already hold the old public key.
func LoadOrCreateKey(dir, origin string) (*Key, error) {
	if err := ValidOrigin(origin); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, KeyFileName)
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = createKeyFile(dir, path, origin)
	}
	if err != nil {
		return nil, err
	}
	if k.origin != origin {
		return nil, fmt.Errorf("audit: the key in %s is for origin %q, not %q; move it away to start a new key (auditors will need the new public key)", path, k.origin, origin)
	}
	pub := filepath.Join(dir, VerifierKeyFileName)
	if cur, err := os.ReadFile(pub); err != nil || strings.TrimSpace(string(cur)) != k.vkey {
		if err := writeFileAtomic(dir, pub, []byte(k.vkey+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("audit: write public key: %w", err)
		}
	}
	return k, nil
}

func readKeyFile(path string) (*Key, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: key file %s may be read by others (mode %04o); run chmod 600 on it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read key file: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func createKeyFile(dir, path, origin string) (*Key, error) {
	k, skey, err := GenerateKey(origin)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "."+KeyFileName+"-*") // created 0600
	if err != nil {
		return nil, fmt.Errorf("audit: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(skey + "\n"); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("audit: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("audit: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("audit: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path) // another process was first
		}
		return nil, fmt.Errorf("audit: install key file: %w", err)
	}
	syncDir(dir)
	return k, nil
}

// writeFileAtomic replaces path with data so readers never see half a file.
func writeFileAtomic(dir, path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a new directory entry durable; failure only costs durability
// of the name, which the next start repairs, so it is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// TrustedKeys are the verifier keys an offline check accepts.
type TrustedKeys struct {
	verifiers note.Verifiers
	names     []string
}

// NewTrustedKeys parses verifier keys; at least one is required, because a
// bundle or receipt that brought its own key would prove nothing.
func NewTrustedKeys(vkeys []string) (*TrustedKeys, error) {
	var list []note.Verifier
	var names []string
	for _, vk := range vkeys {
		for _, one := range strings.Fields(vk) {
			v, err := note.NewVerifier(one)
			if err != nil {
				return nil, fmt.Errorf("audit: verifier key %.40q…: %w", one, err)
			}
			list = append(list, v)
			names = append(names, fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()))
		}
	}
	if len(list) == 0 {
		return nil, errors.New("audit: a trusted verifier key is required")
	}
	return &TrustedKeys{verifiers: note.VerifierList(list...), names: names}, nil
}

// Names returns the keys as "<name>+<hash>", for reports.
func (k *TrustedKeys) Names() []string { return k.names }
