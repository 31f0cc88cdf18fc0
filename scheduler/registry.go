package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// registry persists function definitions and code under StateDir/functions:
//
//	functions/NAME/function.json   the FunctionConfig
//	functions/NAME/code/REV.zip    the package as uploaded (GetFunction's Code.Location)
//	functions/NAME/code/REV/       the package unzipped, mounted read-only at /var/task
//
// Old revisions stay until the next load, because running sandboxes may still mount them.
type registry struct {
	dir string
}

const functionFile = "function.json"

func newRegistry(stateDir string) (*registry, error) {
	dir := filepath.Join(stateDir, "functions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w (set a writable StateDir)", dir, err)
	}
	return &registry{dir: dir}, nil
}

func (r *registry) fnDir(name string) string { return filepath.Join(r.dir, name) }

// load reads every function and removes code revisions no function refers to.
func (r *registry) load() ([]*FunctionConfig, error) {
	removeTrash(r.dir)
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("read functions: %w", err)
	}
	var out []*FunctionConfig
	for _, e := range entries {
		if !e.IsDir() || ValidateFunctionName(e.Name()) != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(r.fnDir(e.Name()), functionFile))
		if errors.Is(err, os.ErrNotExist) {
			// A create that crashed half-way; nothing refers to it.
			os.RemoveAll(r.fnDir(e.Name()))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read function %s: %w", e.Name(), err)
		}
		var f FunctionConfig
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("function %s: %s is corrupt: %w (fix or delete the directory)", e.Name(), functionFile, err)
		}
		r.pruneCode(&f)
		out = append(out, &f)
	}
	slices.SortFunc(out, func(a, b *FunctionConfig) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (r *registry) pruneCode(f *FunctionConfig) {
	codeDir := filepath.Join(r.fnDir(f.Name), "code")
	entries, _ := os.ReadDir(codeDir)
	for _, e := range entries {
		rev := strings.TrimSuffix(e.Name(), ".zip")
		if f.CodeDir == "" || rev != filepath.Base(f.CodeDir) {
			os.RemoveAll(filepath.Join(codeDir, e.Name()))
		}
	}
}

// save writes f atomically (write + rename).
func (r *registry) save(f *FunctionConfig) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := r.fnDir(f.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save function %s: %w", f.Name, err)
	}
	tmp := filepath.Join(dir, functionFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("save function %s: %w", f.Name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, functionFile)); err != nil {
		return fmt.Errorf("save function %s: %w", f.Name, err)
	}
	return nil
}

func (r *registry) remove(name string) error {
	if err := os.RemoveAll(r.fnDir(name)); err != nil {
		return fmt.Errorf("remove function %s: %w", name, err)
	}
	return nil
}

// storeCode sets f's code fields from code, unzipping a zip into a new revision directory.
// Whether the package fits the function is FunctionConfig.validateCode's to say.
func (r *registry) storeCode(f *FunctionConfig, code Code, rev string) error {
	f.CodeDir = ""
	switch {
	case code.hasZip():
		dir := filepath.Join(r.fnDir(f.Name), "code", rev)
		sum, size, err := storeZip(code, dir)
		if err != nil {
			r.dropCode(dir)
			return err
		}
		f.CodeDir, f.CodeSha256, f.CodeSize = dir, sum, size
	case code.ImageURI != "":
		f.Image = code.ImageURI
		f.CodeSha256 = codeSha256([]byte(code.ImageURI))
		f.CodeSize = 0
	default:
		// Runtime faaslab without a package: the built-in handler is the code.
		f.CodeSha256 = codeSha256(nil)
		f.CodeSize = 0
	}
	return nil
}

// dropCode removes a stored revision (its directory and its zip); "" is none.
func (r *registry) dropCode(dir string) {
	if dir == "" {
		return
	}
	os.RemoveAll(dir)
	os.Remove(dir + ".zip")
}

// CodeLocation is where the uploaded package is kept ("" when there is none).
func codeLocation(f *FunctionConfig) string {
	if f.CodeDir == "" {
		return ""
	}
	return "file://" + f.CodeDir + ".zip"
}
