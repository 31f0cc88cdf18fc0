// Command testprog is the static program the sandbox contract suite runs inside sandboxes
// of every backend (it is mounted at /opt/faaslab-testprog/testprog).
//
//	testprog echo WORDS...   print the words
//	testprog alloc MB        allocate and touch MB megabytes, then sleep
//	testprog sleep MS        sleep
//	testprog whoami          print "uid=U gid=G capeff=HEX nonewprivs=N hostname=H"
//	testprog fs              print "rootwritable=B tmpwritable=B root=ENTRIES shadow=BYTES"
//	testprog links           print the network interfaces
//
// Attacks (docs/security.md lists them; each prints what it achieved):
//
//	testprog keyring-add DESC SECRET   store SECRET in the user keyring: "added=ID" or "add_key=ERR"
//	testprog keyring-find DESC         search the user keyring: "found=SECRET" or "search=ERR"
//	testprog userns                    "clone_newuser=ok|ERR unshare_newuser=ok|ERR"
//	testprog connect HOST:PORT         TCP connect: "connect=ok" or "connect=ERR"
//	testprog listen PORT               serve TCP on 0.0.0.0:PORT ("listening"), echo, until killed
//	testprog fill DIR MB               write MB megabytes into DIR: "wrote=N err=ERR"
//	testprog seccomp                   print "seccomp=MODE" (/proc/self/status)
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testprog echo|alloc|sleep|whoami|fs|links")
		os.Exit(2)
	}
	arg := func() int {
		if len(os.Args) < 3 {
			return 0
		}
		n, _ := strconv.Atoi(os.Args[2])
		return n
	}
	switch os.Args[1] {
	case "echo":
		fmt.Println(strings.Join(os.Args[2:], " "))
	case "alloc":
		var keep [][]byte
		for i := 0; i < arg(); i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MB")
		time.Sleep(time.Hour)
	case "sleep":
		time.Sleep(time.Duration(arg()) * time.Millisecond)
	case "whoami":
		status, _ := os.ReadFile("/proc/self/status")
		field := func(name string) string {
			for _, l := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(l, name+":"); ok {
					return strings.TrimSpace(v)
				}
			}
			return "?"
		}
		host, _ := os.Hostname()
		fmt.Printf("uid=%d gid=%d capeff=%s capbnd=%s nonewprivs=%s hostname=%s\n", os.Getuid(), os.Getgid(),
			field("CapEff"), field("CapBnd"), field("NoNewPrivs"), host)
	case "fs":
		rootW := os.WriteFile("/faaslab-probe", []byte("x"), 0o644) == nil
		tmpW := os.WriteFile("/tmp/faaslab-probe", []byte("x"), 0o644) == nil
		shadow, err := os.ReadFile("/etc/shadow")
		shadowLen := len(shadow)
		if err != nil {
			shadowLen = -1
		}
		rootEntries, _ := os.ReadDir("/root")
		homeEntries, _ := os.ReadDir("/home")
		_, dockerSock := os.Stat("/var/run/docker.sock")
		fmt.Printf("rootwritable=%v tmpwritable=%v shadow=%d rootentries=%d homeentries=%d dockersock=%v\n",
			rootW, tmpW, shadowLen, len(rootEntries), len(homeEntries), dockerSock == nil)
	case "links":
		ifs, _ := net.Interfaces()
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		fmt.Println("links=" + strings.Join(names, ","))
	case "keyring-add":
		id, err := unix.AddKey("user", os.Args[2], []byte(os.Args[3]), unix.KEY_SPEC_USER_KEYRING)
		if err != nil {
			fmt.Printf("add_key=%v\n", err)
			return
		}
		// Bounded life: a failed run must not leave a secret in the host's keyring for ever.
		unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, 120, 0, 0)
		fmt.Printf("added=%d\n", id)
	case "keyring-find":
		id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", os.Args[2], 0)
		if err != nil {
			fmt.Printf("search=%v\n", err)
			return
		}
		buf := make([]byte, 256)
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			fmt.Printf("read=%v\n", err)
			return
		}
		fmt.Printf("found=%s\n", buf[:min(n, len(buf))])
	case "userns":
		try := func(attr *syscall.SysProcAttr) string {
			cmd := exec.Command("/proc/self/exe", "echo", "inside")
			cmd.SysProcAttr = attr
			if out, err := cmd.CombinedOutput(); err != nil {
				return strings.ReplaceAll(fmt.Sprintf("%v:%s", err, out), " ", "_")
			}
			return "ok"
		}
		fmt.Printf("clone_newuser=%s unshare_newuser=%s\n",
			try(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}),
			try(&syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWUSER}))
	case "connect":
		c, err := net.DialTimeout("tcp", os.Args[2], 3*time.Second)
		if err != nil {
			fmt.Printf("connect=%v\n", err)
			return
		}
		c.Close()
		fmt.Println("connect=ok")
	case "listen":
		l, err := net.Listen("tcp", ":"+os.Args[2])
		if err != nil {
			fmt.Printf("listen=%v\n", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	case "fill":
		f, err := os.Create(filepath.Join(os.Args[2], "fill"))
		wrote := 0
		if err == nil {
			chunk := make([]byte, 1<<20)
			for wrote < arg2(3) {
				if _, err = f.Write(chunk); err != nil {
					break
				}
				wrote++
			}
			if err == nil {
				err = f.Sync()
			}
			f.Close()
		}
		fmt.Printf("wrote=%d err=%v\n", wrote, err)
	case "seccomp":
		status, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
				fmt.Printf("seccomp=%s\n", strings.TrimSpace(v))
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// arg2 is the integer argument at os.Args[i] (0 when absent).
func arg2(i int) int {
	if len(os.Args) <= i {
		return 0
	}
	n, _ := strconv.Atoi(os.Args[i])
	return n
}
