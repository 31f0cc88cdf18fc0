package main

import "runtime/debug"

var debugSetMemoryLimit = debug.SetMemoryLimit
