// Command testprog is the static program the sandbox contract suite runs inside sandboxes
// of every backend (it is mounted at /opt/faaslab-testprog/testprog).
//
//	testprog echo WORDS...   print the words
//	testprog alloc MB        allocate and touch MB megabytes, then sleep
//	testprog sleep MS        sleep
//	testprog whoami          print "uid=U gid=G capeff=HEX nonewprivs=N hostname=H"
//	testprog fs              print "rootwritable=B tmpwritable=B root=ENTRIES shadow=BYTES"
//	testprog links           print the network interfaces
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
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
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
