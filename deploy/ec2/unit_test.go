// Package ec2_test checks deploy/ec2/user-data.sh end to end: in the cgroup v2 VM it installs
// faaslab from the release tarball, and the daemon is started exactly as the installed
// systemd unit would start it (the VM has no systemd, so the test reads the unit itself).
package ec2_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// unitService is what the test needs of a unit's [Service] section.
type unitService struct {
	ExecStart        string
	Environment      []string // KEY=VALUE, from Environment= lines
	EnvironmentFiles []string // paths; a leading "-" (missing file is fine) is kept
}

// parseUnit reads the [Service] keys systemd would use to start the daemon.
func parseUnit(text string) (unitService, error) {
	var u unitService
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || section != "Service" {
			continue
		}
		switch strings.TrimSpace(key) {
		case "ExecStart":
			u.ExecStart = strings.TrimSpace(val)
		case "Environment":
			words, err := splitQuoted(val)
			if err != nil {
				return u, fmt.Errorf("Environment=%s: %w", val, err)
			}
			u.Environment = append(u.Environment, words...)
		case "EnvironmentFile":
			u.EnvironmentFiles = append(u.EnvironmentFiles, strings.TrimSpace(val))
		}
	}
	if u.ExecStart == "" {
		return u, fmt.Errorf("no ExecStart= in [Service]")
	}
	return u, nil
}

// splitQuoted splits s at blanks outside single or double quotes and drops the quotes.
func splitQuoted(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// readEnvironmentFile reads KEY=VALUE lines as systemd's EnvironmentFile= does (comments,
// blank lines, optional quotes). A "-path" that does not exist gives nothing.
func readEnvironmentFile(spec string) ([]string, error) {
	path, optional := strings.CutPrefix(spec, "-")
	b, err := os.ReadFile(path)
	if err != nil {
		if optional && os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("EnvironmentFile=%s: %w", spec, err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("EnvironmentFile=%s: line %q is not KEY=VALUE", spec, line)
		}
		env = append(env, strings.TrimSpace(k)+"="+strings.Trim(strings.TrimSpace(v), `"'`))
	}
	return env, nil
}

// command turns ExecStart into argv as systemd does: environment files first, then
// Environment= (later wins); a word that is exactly $NAME becomes NAME's value split at
// blanks (none when empty or unset), ${NAME} is replaced inside its word.
func (u unitService) command() (argv, env []string, err error) {
	for _, f := range u.EnvironmentFiles {
		e, err := readEnvironmentFile(f)
		if err != nil {
			return nil, nil, err
		}
		env = append(env, e...)
	}
	env = append(env, u.Environment...)
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	words, err := splitQuoted(strings.TrimLeft(u.ExecStart, "-@+!:"))
	if err != nil {
		return nil, nil, fmt.Errorf("ExecStart=%s: %w", u.ExecStart, err)
	}
	for _, w := range words {
		if name, ok := strings.CutPrefix(w, "$"); ok && !strings.HasPrefix(name, "{") {
			argv = append(argv, strings.Fields(vars[name])...)
			continue
		}
		argv = append(argv, os.Expand(w, func(k string) string { return vars[k] }))
	}
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return nil, nil, fmt.Errorf("ExecStart=%s: want an absolute program path", u.ExecStart)
	}
	return argv, env, nil
}

// TestUnitCommand: the real unit's ExecStart runs the installed binary with the installed
// config, and FAASLAB_ARGS from /etc/default/faaslab (its EnvironmentFile) become flags.
func TestUnitCommand(t *testing.T) {
	b, err := os.ReadFile("../systemd/faaslab.service")
	if err != nil {
		t.Skipf("the unit file is not here (the VM carries only testdata): %v", err)
	}
	u, err := parseUnit(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.EnvironmentFiles) != 1 || !strings.HasPrefix(u.EnvironmentFiles[0], "-") {
		t.Fatalf("EnvironmentFile= %v: want one optional file", u.EnvironmentFiles)
	}
	// Point the EnvironmentFile at a temp file, absent first, then with FAASLAB_ARGS.
	envFile := filepath.Join(t.TempDir(), "faaslab")
	u.EnvironmentFiles = []string{"-" + envFile}
	base := []string{"/usr/local/bin/faaslab", "daemon", "--config", "/etc/faaslab/faaslab.yaml"}
	argv, _, err := u.command()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(argv, base) {
		t.Errorf("argv without FAASLAB_ARGS = %q, want %q", argv, base)
	}
	os.WriteFile(envFile, []byte("# site settings\nFAASLAB_ARGS=\"--policy equal  --nic 1gbit\"\nFAASLAB_REGION=eu-west-1\n"), 0o644)
	argv, env, err := u.command()
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, base...), "--policy", "equal", "--nic", "1gbit")
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv = %q, want %q", argv, want)
	}
	if !reflect.DeepEqual(env, []string{"FAASLAB_ARGS=--policy equal  --nic 1gbit", "FAASLAB_REGION=eu-west-1"}) {
		t.Errorf("env = %q", env)
	}
	u.EnvironmentFiles = []string{envFile + ".missing"}
	if _, _, err := u.command(); err == nil || !strings.Contains(err.Error(), "EnvironmentFile=") {
		t.Errorf("a required, missing EnvironmentFile: err = %v, want one naming EnvironmentFile=", err)
	}
}

func TestParseUnitErrors(t *testing.T) {
	if _, err := parseUnit("[Unit]\nExecStart=/bin/true\n[Service]\nType=simple\n"); err == nil {
		t.Error("ExecStart outside [Service] counted")
	}
	if _, err := parseUnit("[Service]\nEnvironment=\"A=1 B=2\nExecStart=/bin/true\n"); err == nil || !strings.Contains(err.Error(), "Environment=") {
		t.Errorf("unterminated quote: err = %v", err)
	}
	u, err := parseUnit("[Service]\nEnvironment=A=1 \"B=two words\"\nExecStart=-/bin/echo ${A}x $B\n")
	if err != nil {
		t.Fatal(err)
	}
	argv, _, err := u.command()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/echo", "1x", "two", "words"}; !reflect.DeepEqual(argv, want) {
		t.Errorf("argv = %q, want %q", argv, want)
	}
}
