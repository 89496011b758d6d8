//go:build nodemo

package main

import (
	"context"
	"errors"
	"io"
)

// runDemo is absent from a build with -tags nodemo: such a binary links no
// Kubeshark stand-in (its MCP server and capture generator).
func runDemo(context.Context, []string, io.Writer, io.Writer) error {
	return errors.New("this flowproof was built without the demo (-tags nodemo); build without the tag, or run `make demo`")
}
