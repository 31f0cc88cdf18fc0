// Package urls gives faaslab functions Lambda function URLs: the configurations
// (Create/Get/Update/Delete/ListFunctionUrlConfig, served by scheduler/api) and the HTTP
// endpoint that turns a request into a payload format 2.0 event and the function's answer
// back into an HTTP response.
//
// Real Lambda gives every URL its own host name (https://<url-id>.lambda-url.<region>.on.aws/).
// faaslab serves every URL on one listener and routes by path prefix: a function's URL is
// http://<addr>:<port>/fn/<url-id>/ and everything below it reaches the function with the
// prefix removed (rawPath "/" for the URL itself). A Host header "<url-id>.lambda-url.…"
// routes the same way, so clients that insist on a host name work too.
package urls

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Sentinel errors; test with errors.Is.
var (
	ErrExists   = errors.New("function URL config exists")
	ErrNotFound = errors.New("function URL config not found")
)

// Auth types and invoke modes Lambda knows; faaslab serves AuthNone and ModeBuffered only.
const (
	AuthNone     = "NONE"
	AuthIAM      = "AWS_IAM"
	ModeBuffered = "BUFFERED"
	ModeStream   = "RESPONSE_STREAM"
)

// PathPrefix is where the URL listener serves function URLs: /fn/<url-id>/...
const PathPrefix = "/fn/"

// Cors is Lambda's CORS document; faaslab stores and returns it but does not enforce it.
type Cors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

// Config is one function's URL configuration.
type Config struct {
	Function     string    `json:"function"`
	URLID        string    `json:"url_id"`
	AuthType     string    `json:"auth_type"`
	InvokeMode   string    `json:"invoke_mode"`
	Cors         *Cors     `json:"cors,omitempty"`
	Created      time.Time `json:"created"`
	LastModified time.Time `json:"last_modified"`
}

// Store holds the URL configurations, keyed by function name and by URL id, persisted as
// one JSON file (rewritten on every change; there are few URLs and changes are rare).
type Store struct {
	path string // "" = memory only
	// hostBase and sandboxBase are the URL listener as the host and as sandboxes reach
	// it, e.g. http://127.0.0.1:9002 and http://10.201.0.1:9002.
	hostBase, sandboxBase string

	mu     sync.RWMutex
	byName map[string]*Config
	byID   map[string]*Config
}

// Open loads the store kept at path (missing file = empty); path "" keeps it in memory.
// hostBase and sandboxBase are the listener's base URLs (scheme://addr:port, no slash).
func Open(path, hostBase, sandboxBase string) (*Store, error) {
	s := &Store{path: path, hostBase: hostBase, sandboxBase: sandboxBase,
		byName: map[string]*Config{}, byID: map[string]*Config{}}
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("function URLs: %w", err)
	}
	var list []*Config
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("function URLs %s: %w", path, err)
	}
	for _, c := range list {
		s.byName[c.Function], s.byID[c.URLID] = c, c
	}
	return s, nil
}

// FunctionURL is c's URL as the host reaches it: http://127.0.0.1:PORT/fn/<url-id>/.
func (s *Store) FunctionURL(c Config) string { return s.hostBase + PathPrefix + c.URLID + "/" }

// SandboxURL is c's URL as a sandbox reaches it, on the bridge's gateway address.
func (s *Store) SandboxURL(c Config) string { return s.sandboxBase + PathPrefix + c.URLID + "/" }

// Create adds fn's URL config; ErrExists if it has one.
func (s *Store) Create(fn, authType, mode string, cors *Cors) (Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[fn]; ok {
		return Config{}, ErrExists
	}
	now := time.Now().UTC()
	c := &Config{Function: fn, URLID: s.newID(), AuthType: authType, InvokeMode: mode, Cors: cors,
		Created: now, LastModified: now}
	s.byName[fn], s.byID[c.URLID] = c, c
	return *c, s.saveLocked()
}

// Update changes the fields given (empty/nil = keep); ErrNotFound if fn has no URL.
func (s *Store) Update(fn, authType, mode string, cors *Cors) (Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byName[fn]
	if !ok {
		return Config{}, ErrNotFound
	}
	if authType != "" {
		c.AuthType = authType
	}
	if mode != "" {
		c.InvokeMode = mode
	}
	if cors != nil {
		c.Cors = cors
	}
	c.LastModified = time.Now().UTC()
	return *c, s.saveLocked()
}

// Get returns fn's URL config.
func (s *Store) Get(fn string) (Config, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return deref(s.byName[fn])
}

// ByID returns the config whose URL id is id.
func (s *Store) ByID(id string) (Config, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return deref(s.byID[id])
}

// Delete removes fn's URL config; ErrNotFound if there is none.
func (s *Store) Delete(fn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byName[fn]
	if !ok {
		return ErrNotFound
	}
	delete(s.byName, fn)
	delete(s.byID, c.URLID)
	return s.saveLocked()
}

// List returns every config, sorted by function name.
func (s *Store) List() []Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Config, 0, len(s.byName))
	for _, c := range s.byName {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}

// idAlphabet and idLen follow Lambda's URL ids: 32 lowercase letters and digits.
const (
	idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	idLen      = 32
)

func (s *Store) newID() string {
	for {
		b := make([]byte, idLen)
		rand.Read(b)
		for i := range b {
			b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
		}
		if _, taken := s.byID[string(b)]; !taken {
			return string(b)
		}
	}
}

// saveLocked rewrites the file atomically (temp file + rename).
func (s *Store) saveLocked() error {
	if s.path == "" {
		return nil
	}
	list := make([]*Config, 0, len(s.byName))
	for _, c := range s.byName {
		list = append(list, c)
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".function-urls-*")
	if err != nil {
		return fmt.Errorf("function URLs: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("function URLs: %w", err)
	}
	tmp.Close()
	return os.Rename(tmp.Name(), s.path)
}
