package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/report"
)

// TestMCPUsage: the server refuses to start without a root, with a root
// that is not a directory, with two Kubeshark endpoints, and when it would
// listen beyond loopback without a token.
func TestMCPUsage(t *testing.T) {
	clearKubesharkEnv(t)
	t.Setenv(envMCPToken, "")
	root := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mcp"}, "no --root"},
		{[]string{"mcp", "--root", filepath.Join(root, "missing")}, "root"},
		{[]string{"mcp", "--root", root, "extra"}, "takes no arguments"},
		{[]string{"mcp", "--root", root, "--listen", "0.0.0.0:0"}, envMCPToken},
		{[]string{"mcp", "--root", root, "--listen", ":8080"}, envMCPToken},
		{[]string{"mcp", "--root", root, "--mcp-url", "http://x/mcp", "--mcp-command", "kubeshark mcp"}, "give one"},
		{[]string{"mcp", "--root", root, "--max-rows", "0"}, "must be positive"},
	} {
		code, _, stderr := run(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false, "nonsense": false} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}

// TestMCPCommandStdio runs "flowproof mcp" over stdio with the Kubeshark
// connection in the environment, as an agent host would start it: analyze
// and pull_and_analyze (against a spawned stand-in) both answer, and the
// Hub token is nowhere in the outputs.
func TestMCPCommandStdio(t *testing.T) {
	clearKubesharkEnv(t)
	bin := buildStandin(t, t.TempDir())
	const token = "tok-mcp-SECRET-0815"
	hub := newHub(t, standin.Options{Token: token})
	t.Setenv(envMCPCommand, bin+" mcp --url "+hub.URL)
	t.Setenv(envHubURL, hub.URL)
	t.Setenv(envHubToken, token)
	root := t.TempDir()
	writeCase(t, root, "tcp-sf.pcap")

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	old := mcpStdin
	mcpStdin = inR
	defer func() { mcpStdin = old }()
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), []string{"mcp", "--root", root, "--poll", "5ms"}, outW, &stderr)
		outW.Close()
	}()
	rd := bufio.NewReader(outR)
	answer := func(id int) map[string]any {
		t.Helper()
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (stderr %s)", err, stderr.String())
			}
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["id"] == float64(id) {
				return m
			}
		}
	}
	send := func(s string) {
		if _, err := io.WriteString(inW, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"host","version":"1"}}}`)
	answer(1)
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"analyze","arguments":{"inputs":["tcp-sf.pcap"],"output_dir":"local"}}}`)
	if b, _ := json.Marshal(answer(2)); strings.Contains(string(b), `"isError":true`) || !strings.Contains(string(b), `\"flows\":1`) {
		t.Errorf("analyze: %s", b)
	}
	from, to := hub.Window()
	send(fmt.Sprintf(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"pull_and_analyze","arguments":{"from":%q,"to":%q,"namespace":"shop","output_dir":"incident"}}}`,
		from.Format(time.RFC3339Nano), to.Add(time.Second).Format(time.RFC3339Nano)))
	b, _ := json.Marshal(answer(3))
	if strings.Contains(string(b), `"isError":true`) || !strings.Contains(string(b), `\"kubeshark_answers\"`) {
		t.Errorf("pull_and_analyze: %s", b)
	}
	inW.Close()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	for _, dir := range []string{"local", "incident", "incident/evidence"} {
		if v, err := report.Verify(filepath.Join(root, dir)); err != nil || !v.OK() {
			t.Errorf("verify %s: %+v %v", dir, v, err)
		}
	}
	assertNoToken(t, token, []string{root}, string(b), stderr.String())
}

// TestMCPCommandHTTP runs "flowproof mcp --listen" with a token: a request
// without it, or with another, is refused with 401; with it, the server
// answers; canceling the context stops the server.
func TestMCPCommandHTTP(t *testing.T) {
	clearKubesharkEnv(t)
	const token = "http-bearer-token"
	t.Setenv(envMCPToken, token)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- Main(ctx, []string{"mcp", "--root", t.TempDir(), "--listen", addr}, io.Discard, &stderr)
	}()
	post := func(auth string) int {
		body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"h","version":"1"}}}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for post("Bearer "+token) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "Bearer " + token + "x": 401, "Basic " + token: 401, "Bearer " + token: 200} {
		if got := post(auth); got != want {
			t.Errorf("Authorization %q: status %d, want %d", auth, got, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
}
