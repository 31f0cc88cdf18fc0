// Package jsonl reads and appends JSON-lines files (one JSON value per line), the format
// of the experiment runner's records and the daemon's invocation records, so that both
// treat a line torn by a crash the same way.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// OpenAppend opens (creating) a JSON-lines file for appending. A last line cut short by
// a crash (no final newline) is cut off first: appended to, it would become a corrupt line
// in the middle of the file, which ReadLines refuses (a resumed run's records, a restarted
// daemon's invocation records).
func OpenAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := dropTornTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// dropTornTail truncates f after its last newline (to empty when it has none).
func dropTornTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for end := st.Size(); end > 0; {
		n := min(int64(len(buf)), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if keep := end - n + int64(i) + 1; keep < st.Size() {
				return f.Truncate(keep)
			}
			return nil
		}
		end -= n
	}
	if st.Size() > 0 {
		return f.Truncate(0)
	}
	return nil
}

// ReadLines decodes one JSON value per line of r, of any length, and hands each to each
// in order. A last line cut short (by a crash, or by a writer still appending) is skipped:
// everything before it is kept. Any other line that is not a T is an error naming name and
// the line number.
func ReadLines[T any](r io.Reader, name string, each func(T)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var v T
			if jerr := json.Unmarshal(line, &v); jerr != nil {
				if err == io.EOF { // a torn last line
					return nil
				}
				return fmt.Errorf("%s line %d: %w", name, lineNo, jerr)
			}
			each(v)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
