// Package filedrop writes the FILE connector's drops. Every drop lies under
// the operator's drop root, in the folder of its account (account-<id>,
// derived from the account id, never from a name a user picks), in the
// source's directory given relative to that folder. Directories are checked
// when a source is saved (CleanDir) and again at write time, and every file
// operation goes through os.Root, so that neither a path nor a symbolic
// link leads out of the account's folder. A drop never replaces a file
// still there.
package filedrop

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDirLen is the longest directory a source may name, in bytes.
const MaxDirLen = 255

// AccountFolder is the name of an account's folder under the drop root.
func AccountFolder(accountID int) string { return fmt.Sprintf("account-%d", accountID) }

// CleanDir checks a source's directory and returns it cleaned (slashes
// between folders, no empty or "." segment; "." for the account's folder
// itself). It refuses absolute paths, "..", backslashes, control
// characters (NUL among them), invalid UTF-8 and more than MaxDirLen bytes,
// with a message for the user.
func CleanDir(dir string) (string, error) {
	dir = strings.TrimSpace(dir)
	switch {
	case dir == "":
		return "", errors.New("a FILE connector needs a directory")
	case len(dir) > MaxDirLen:
		return "", fmt.Errorf("must be at most %d bytes", MaxDirLen)
	case !utf8.ValidString(dir):
		return "", errors.New("must be valid UTF-8")
	case strings.IndexFunc(dir, unicode.IsControl) >= 0:
		return "", errors.New("must not contain control characters")
	case strings.Contains(dir, `\`):
		return "", errors.New(`must use / between folders, not \`)
	case strings.HasPrefix(dir, "/") || filepath.IsAbs(dir) || filepath.VolumeName(dir) != "":
		return "", errors.New("must be relative to the account's drop folder, not an absolute path")
	}
	for _, seg := range strings.Split(dir, "/") {
		if seg == ".." {
			return "", errors.New(`must not contain ".."`)
		}
	}
	clean := path.Clean(dir)
	if !filepath.IsLocal(filepath.FromSlash(clean)) && clean != "." {
		return "", errors.New("must be a folder inside the account's drop folder")
	}
	return clean, nil
}

// Errors of Write. Every other error is one of the file system's, most
// likely passing (a full disk, a permission changed).
var (
	// ErrBadDir: the directory stored for the source is not one CleanDir
	// accepts (saved before directories were checked).
	ErrBadDir = errors.New("the drop directory is not a folder inside the account's drop folder")
	// ErrEscapes: the path leads out of the account's folder, through a
	// symbolic link.
	ErrEscapes = errors.New("the drop directory leads out of the account's drop folder")
	// ErrExists: a different file of that name is in the directory.
	ErrExists = errors.New("a different file of that name is in the drop directory")
)

// Write puts data in the file name of the directory dir of the account's
// folder under root, creating the folders as needed. The file appears
// whole or not at all (written under a temporary name, then linked to its
// name, which fails rather than replace a file), and is never written over
// one that is there: when a file of that name holds exactly data already
// (the same document delivered again), Write reports it with again = true
// and changes nothing; when it holds anything else, Write returns ErrExists.
func Write(root string, accountID int, dir, name string, data []byte) (again bool, err error) {
	clean, err := CleanDir(dir)
	if err != nil {
		return false, ErrBadDir
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return false, fmt.Errorf("file name %q", name)
	}
	if root == "" {
		return false, errors.New("no drop root is configured")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return false, err
	}
	top, err := os.OpenRoot(root)
	if err != nil {
		return false, err
	}
	defer top.Close()
	acct := AccountFolder(accountID)
	if err := top.Mkdir(acct, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, classify(err)
	}
	// From here on, every path is resolved inside the account's folder.
	ar, err := top.OpenRoot(acct)
	if err != nil {
		return false, classify(err)
	}
	defer ar.Close()
	if clean != "." {
		if err := ar.MkdirAll(clean, 0o755); err != nil {
			return false, classify(err)
		}
	}
	dr, err := ar.OpenRoot(clean)
	if err != nil {
		return false, classify(err)
	}
	defer dr.Close()

	if same, err := holds(dr, name, data); err != nil || same {
		return same, err
	}
	tmp := ".tmp-" + randomHex(8)
	f, err := dr.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, classify(err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = dr.Remove(tmp)
		return false, err
	}
	lerr := dr.Link(tmp, name)
	_ = dr.Remove(tmp)
	if errors.Is(lerr, fs.ErrExist) {
		// Another writer of the same document got there first, or a
		// different file appeared meanwhile.
		return holds(dr, name, data)
	}
	if lerr != nil {
		return false, classify(lerr)
	}
	if d, err := dr.Open("."); err == nil {
		_ = d.Sync() // the new name survives a crash
		_ = d.Close()
	}
	return false, nil
}

// holds reports whether name exists with exactly data: false, nil when
// there is no such file, ErrExists when it holds something else.
func holds(dr *os.Root, name string, data []byte) (bool, error) {
	st, err := dr.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, classify(err)
	}
	if !st.Mode().IsRegular() || st.Size() != int64(len(data)) {
		return false, ErrExists
	}
	have, err := dr.ReadFile(name)
	if err != nil {
		return false, classify(err)
	}
	if !bytes.Equal(have, data) {
		return false, ErrExists
	}
	return true, nil
}

// classify turns os.Root's refusal of a path out of the root into
// ErrEscapes. os exports no sentinel for it; its message is stable.
func classify(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return ErrEscapes
		}
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
