// Command probe prints its name: the test of testutil.Binary builds it.
package main

import "fmt"

func main() { fmt.Println("probe") }
