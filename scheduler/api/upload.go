package api

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/faaslab/faaslab/scheduler"
)

// Errors of a streamed ZipFile.
var (
	errZipBase64 = errors.New("ZipFile is not valid base64")
	errZipEscape = errors.New(`ZipFile holds a JSON escape other than \/ (base64 needs none)`)
	errZipTooBig = fmt.Errorf("ZipFile decodes to more than %d bytes", scheduler.MaxZipBytes)
)

// zipStream passes a JSON document through unchanged except for the string value at
// path (["Code","ZipFile"] for CreateFunction, ["ZipFile"] for UpdateFunctionCode),
// which it base64-decodes into out and replaces with "". The rest of the document is
// small and goes to encoding/json as usual; the zip (up to 50 MB, ~67 MB of base64)
// never sits in memory. It tracks just enough JSON structure (strings, nesting, the
// current key of each object) to know where that value starts.
type zipStream struct {
	src     *bufio.Reader
	path    []string
	out     io.Writer
	written int64 // decoded bytes written to out

	stack   []jsonFrame
	inStr   bool
	esc     bool
	isKey   bool
	key     []byte
	pending []byte // bytes to hand out before reading on
	err     error  // a ZipFile error, reported instead of the JSON decoder's
}

type jsonFrame struct {
	obj       bool
	expectKey bool
	key       string
}

func newZipStream(r io.Reader, out io.Writer, path ...string) *zipStream {
	return &zipStream{src: bufio.NewReaderSize(r, 64<<10), path: path, out: out}
}

func (z *zipStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(z.pending) > 0 {
			c := copy(p[n:], z.pending)
			z.pending = z.pending[c:]
			n += c
			continue
		}
		b, err := z.src.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if !z.inStr && b == '"' && z.atTarget() {
			if err := z.divert(); err != nil {
				z.err = err
				return n, err
			}
			z.pending = []byte(`""`)
			continue
		}
		z.step(b)
		p[n] = b
		n++
	}
	return n, nil
}

// step advances the structure tracker over one byte that passes through.
func (z *zipStream) step(b byte) {
	if z.inStr {
		switch {
		case z.esc:
			z.esc = false
		case b == '\\':
			z.esc = true
		case b == '"':
			z.inStr = false
			if z.isKey && len(z.stack) > 0 {
				z.stack[len(z.stack)-1].key = string(z.key)
			}
			return
		}
		if z.isKey && len(z.key) < 64 {
			z.key = append(z.key, b)
		}
		return
	}
	top := len(z.stack) - 1
	switch b {
	case '"':
		z.inStr, z.isKey, z.key = true, top >= 0 && z.stack[top].obj && z.stack[top].expectKey, z.key[:0]
	case '{':
		z.stack = append(z.stack, jsonFrame{obj: true, expectKey: true})
	case '[':
		z.stack = append(z.stack, jsonFrame{})
	case '}', ']':
		if top >= 0 {
			z.stack = z.stack[:top]
		}
	case ',':
		if top >= 0 && z.stack[top].obj {
			z.stack[top].expectKey = true
		}
	case ':':
		if top >= 0 {
			z.stack[top].expectKey = false
		}
	}
}

// atTarget: a string value starts here, and every enclosing object's current key
// spells path.
func (z *zipStream) atTarget() bool {
	if len(z.stack) != len(z.path) {
		return false
	}
	for i, f := range z.stack {
		if !f.obj || f.expectKey || f.key != z.path[i] {
			return false
		}
	}
	return true
}

// divert decodes the string value (its opening quote consumed) into out.
func (z *zipStream) divert() error {
	sr := &jsonStringReader{src: z.src}
	dec := base64.NewDecoder(base64.StdEncoding, sr)
	n, err := io.Copy(z.out, io.LimitReader(dec, scheduler.MaxZipBytes+1))
	z.written += n
	switch {
	case errors.Is(err, errZipEscape):
		return err
	case err != nil:
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return errZipBase64
		}
		return err // the body's own read error (timeout, size limit)
	case n > scheduler.MaxZipBytes:
		return errZipTooBig
	}
	// A base64 decoder stops at its padding; the string may not hold more.
	if rest, err := io.Copy(io.Discard, sr); err != nil || rest > 0 {
		return errZipBase64
	}
	return nil
}

// jsonStringReader yields a JSON string's bytes up to its closing quote (consumed).
// base64 holds no characters JSON must escape; "\/" (an escaped slash) is accepted.
type jsonStringReader struct {
	src  *bufio.Reader
	done bool
}

func (s *jsonStringReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		if n > 0 && s.src.Buffered() == 0 {
			break // hand out what we have before blocking on the network
		}
		b, err := s.src.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		switch b {
		case '"':
			s.done = true
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case '\\':
			e, err := s.src.ReadByte()
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
			if e != '/' {
				return n, errZipEscape
			}
			b = '/'
		}
		p[n] = b
		n++
	}
	return n, nil
}

// decodeCodeBody decodes a CreateFunction/UpdateFunctionCode body into v while the
// base64 ZipFile at path streams into a new upload file. It writes the error response
// and returns ok false on failure; otherwise zipPath is the upload ("" when the body
// had no ZipFile), which the caller must remove if it is not stored.
func decodeCodeBody(w http.ResponseWriter, r *http.Request, d Deps, v any, path ...string) (zipPath string, ok bool) {
	up, err := d.Service.NewCodeUpload()
	if err != nil {
		writeServiceError(w, d, err, "")
		return "", false
	}
	if r.ContentLength > maxCreateBodyBytes {
		up.Close()
		os.Remove(up.Name())
		writeBodyTooLarge(w, maxCreateBodyBytes)
		return "", false
	}
	zs := newZipStream(http.MaxBytesReader(w, r.Body, maxCreateBodyBytes), up, path...)
	ok = decodeJSON(w, zs, maxCreateBodyBytes, v, zs.errorResponse)
	cerr := up.Close()
	if !ok || zs.written == 0 || cerr != nil {
		os.Remove(up.Name())
		if ok && cerr != nil {
			writeServiceError(w, d, cerr, "")
			return "", false
		}
		return "", ok
	}
	return up.Name(), true
}

// errorResponse writes the answer to a ZipFile error; false when err is not one.
func (z *zipStream) errorResponse(w http.ResponseWriter, err error) bool {
	switch {
	case z.err == nil:
		return false
	case errors.Is(z.err, errZipTooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Code."+z.err.Error())
	case errors.Is(z.err, errZipBase64), errors.Is(z.err, errZipEscape):
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException", "Code."+z.err.Error())
	default:
		return false // the body's own read error: decodeBody answers it
	}
	return true
}
