package main

import "flag"

var update = flag.Bool("update", false, "rewrite golden output in testdata")
