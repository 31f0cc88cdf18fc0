package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"

	"github.com/faaslab/faaslab/deploy/image"
	"github.com/faaslab/faaslab/runtime"
)

// BuildOptions configure BuildImage.
type BuildOptions struct {
	// Tag of the image (DefaultImage).
	Tag string
	// RuntimeBinary is the static faaslab-runtime on the host ("" = runtime.FindBinary).
	RuntimeBinary string
	// WithIperf3 adds the host's iperf3, the libraries ldd lists and the dynamic loader,
	// for the network micro-benchmark.
	WithIperf3 bool
	// Iperf3Path is the host's iperf3 ("" = looked up in PATH).
	Iperf3Path string
	// Progress receives the engine's build output (may be nil).
	Progress io.Writer
}

// ErrNotStatic: the runtime binary is dynamically linked and cannot run FROM scratch.
var ErrNotStatic = errors.New("binary is dynamically linked")

// BuildImage builds the FROM-scratch runtime image (deploy/image) on the engine named by
// the environment and returns its ID. The context is assembled in Go and streamed to the
// engine's build API.
func BuildImage(ctx context.Context, opts BuildOptions) (string, error) {
	if opts.Tag == "" {
		opts.Tag = DefaultImage
	}
	files, err := checkedContextFiles(&opts)
	if err != nil {
		return "", err
	}
	cli, err := NewClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, files)) }()
	resp, err := cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{opts.Tag},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelScope: "image"},
		Version:     build.BuilderV1, // FROM scratch needs nothing BuildKit adds
	})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("build image %s: %w", opts.Tag, err)
	}
	defer resp.Body.Close()
	id, err := readBuildOutput(resp.Body, opts.Progress)
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", opts.Tag, err)
	}
	return id, nil
}

// WriteContext writes the image's build context as a tar stream to w, for building by
// hand: `faaslab image context | docker build -t faaslab-runtime:latest -`.
func WriteContext(w io.Writer, opts BuildOptions) error {
	files, err := checkedContextFiles(&opts)
	if err != nil {
		return err
	}
	return writeContext(w, files)
}

// checkedContextFiles finds the runtime binary when opts names none, checks it is static
// and lists the context's files.
func checkedContextFiles(opts *BuildOptions) ([]ctxFile, error) {
	if opts.RuntimeBinary == "" {
		p, err := runtime.FindBinary()
		if err != nil {
			return nil, err
		}
		opts.RuntimeBinary = p
	}
	if err := checkStatic(opts.RuntimeBinary); err != nil {
		return nil, err
	}
	return contextFiles(*opts)
}

// checkStatic refuses a binary with a program interpreter (dynamically linked).
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("runtime binary %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("runtime binary %s: %w; rebuild with CGO_ENABLED=0", p, ErrNotStatic)
		}
	}
	return nil
}

// ctxFile is one entry of the build context.
type ctxFile struct {
	name     string // path in the context
	hostPath string // content source; "" for dirs, symlinks and data
	data     []byte
	mode     int64
	dir      bool
	link     string // symlink target
}

// contextFiles lists the build context: Dockerfile, the embedded rootfs, the runtime
// binary and optionally iperf3 with its libraries.
func contextFiles(opts BuildOptions) ([]ctxFile, error) {
	rt := strings.TrimPrefix(image.RuntimePath, "/")
	files := []ctxFile{
		{name: "Dockerfile", data: image.Dockerfile, mode: 0o644},
		{name: "rootfs/tmp", dir: true, mode: 0o1777},
		{name: "rootfs/" + strings.TrimPrefix(image.TaskDir, "/"), dir: true, mode: 0o755},
		{name: "rootfs/" + path.Dir(rt), dir: true, mode: 0o755},
		{name: "rootfs/" + rt, hostPath: opts.RuntimeBinary, mode: 0o755},
		{name: "rootfs/" + strings.TrimPrefix(image.BootstrapPath, "/"), link: path.Base(rt), mode: 0o777},
	}
	err := fs.WalkDir(image.Rootfs, "rootfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "rootfs" {
			return err
		}
		if d.IsDir() {
			files = append(files, ctxFile{name: p, dir: true, mode: 0o755})
			return nil
		}
		data, err := image.Rootfs.ReadFile(p)
		files = append(files, ctxFile{name: p, data: data, mode: 0o644})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("embedded image rootfs: %w", err)
	}
	if opts.WithIperf3 {
		extra, err := iperf3Files(opts.Iperf3Path)
		if err != nil {
			return nil, err
		}
		files = append(files, extra...)
	}
	return files, nil
}

// iperf3Files are the host's iperf3 and what it needs to run FROM scratch, at their host
// paths (the loader finds libraries where ldd found them).
func iperf3Files(bin string) ([]ctxFile, error) {
	if bin == "" {
		p, err := exec.LookPath("iperf3")
		if err != nil {
			return nil, fmt.Errorf("iperf3 not found on the host (apt-get install iperf3): %w", err)
		}
		bin = p
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	paths := append([]string{bin}, parseLdd(string(out))...)
	files := make([]ctxFile, 0, len(paths))
	for _, p := range paths {
		files = append(files, ctxFile{name: "rootfs" + p, hostPath: p, mode: 0o755})
	}
	return files, nil
}

// parseLdd extracts the absolute paths from ldd output: "name => /path (addr)" for
// libraries, "/path (addr)" for the dynamic loader; the vDSO has none.
func parseLdd(out string) []string {
	var paths []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			paths = append(paths, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			paths = append(paths, f[0])
		}
	}
	return paths
}

// writeContext writes files as a tar stream, creating missing parent directories first.
func writeContext(w io.Writer, files []ctxFile) error {
	tw := tar.NewWriter(w)
	seen := map[string]bool{}
	now := time.Now()
	var mkdirs func(dir string) error
	mkdirs = func(dir string) error {
		if dir == "." || dir == "/" || seen[dir] {
			return nil
		}
		if err := mkdirs(path.Dir(dir)); err != nil {
			return err
		}
		seen[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: now})
	}
	for _, f := range files {
		if seen[f.name] {
			continue // the same library listed twice
		}
		if err := mkdirs(path.Dir(f.name)); err != nil {
			return err
		}
		if err := writeEntry(tw, f, now); err != nil {
			return err
		}
		seen[f.name] = true
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, f ctxFile, now time.Time) error {
	hdr := &tar.Header{Name: f.name, Mode: f.mode, ModTime: now}
	switch {
	case f.dir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, f.name+"/"
		return tw.WriteHeader(hdr)
	case f.link != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.link
		return tw.WriteHeader(hdr)
	case f.hostPath == "":
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(f.data)
		return err
	}
	src, err := os.Open(f.hostPath) // follows symlinks: the image gets the real file
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}

// readBuildOutput follows the engine's JSON message stream: progress to w, the first
// error returned, the built image's ID from the aux message.
func readBuildOutput(r io.Reader, w io.Writer) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct{ Message string }
			Aux         json.RawMessage `json:"aux"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("read build output: %w", err)
		}
		if msg.Error != "" {
			return "", errors.New(msg.Error)
		}
		if w != nil && msg.Stream != "" {
			io.WriteString(w, msg.Stream)
		}
		var aux struct{ ID string }
		if len(msg.Aux) > 0 && json.Unmarshal(msg.Aux, &aux) == nil && aux.ID != "" {
			id = aux.ID
		}
	}
	if id == "" {
		return "", errors.New("engine reported no image id")
	}
	return id, nil
}
