// Command keywarden protects AWS access keys end to end. See README.md.
package main

import (
	"os"

	"github.com/keywarden/keywarden/internal/cli"
)

func main() {
	os.Exit(cli.Main(cli.NewFactory(), os.Args[1:]))
}
