package main

import "os"

// The environment variables flowproof reads, all of them, here and nowhere
// else. Flags override them (design.md: Kubeshark connection).
const (
	envMCPURL     = "KUBESHARK_MCP_URL"     // an MCP server over streamable HTTP
	envMCPCommand = "KUBESHARK_MCP_COMMAND" // an MCP server to spawn, spoken to over stdio
	envHubURL     = "KUBESHARK_HUB_URL"     // the Kubeshark front URL, for downloads
	envHubToken   = "KUBESHARK_HUB_TOKEN"   // sent as X-Kubeshark-Authorization; never logged or written

	// The bearer token "flowproof mcp --listen" asks of every HTTP request;
	// required when it listens on an address other than loopback.
	envMCPToken = "FLOWPROOF_MCP_TOKEN"

	// Set by a Kubernetes Indexed Job in each pod: the pod's index and the
	// Job's completions, which analyze takes as --shard INDEX/COMPLETIONS.
	envJobIndex       = "JOB_COMPLETION_INDEX"
	envJobCompletions = "JOB_COMPLETIONS"

	// Read by the Go runtime itself; flowproof only looks whether they are
	// set, to leave the memory policy to the user (memory.go).
	envGOGC       = "GOGC"
	envGOMEMLIMIT = "GOMEMLIMIT"
)

// kubesharkEnv is the Kubeshark connection as the environment gives it.
type kubesharkEnv struct {
	MCPURL, MCPCommand, HubURL, Token string
}

// readKubesharkEnv reads the environment; getenv is os.Getenv outside tests.
func readKubesharkEnv(getenv func(string) string) kubesharkEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	return kubesharkEnv{
		MCPURL:     getenv(envMCPURL),
		MCPCommand: getenv(envMCPCommand),
		HubURL:     getenv(envHubURL),
		Token:      getenv(envHubToken),
	}
}

// gcEnv is what the environment says about the Go collector.
type gcEnv struct {
	userTuned bool // GOGC or GOMEMLIMIT is set
}

// readGCEnv reads the environment; getenv is os.Getenv outside tests.
func readGCEnv(getenv func(string) string) gcEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	return gcEnv{userTuned: getenv(envGOGC) != "" || getenv(envGOMEMLIMIT) != ""}
}

// mcpEnv is what the environment gives the MCP server.
type mcpEnv struct {
	Token string // FLOWPROOF_MCP_TOKEN
}

// readMCPEnv reads the environment; getenv is os.Getenv outside tests.
func readMCPEnv(getenv func(string) string) mcpEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	return mcpEnv{Token: getenv(envMCPToken)}
}

// jobEnv is a Kubernetes Indexed Job's environment ("" when not set).
type jobEnv struct {
	Index, Completions string
}

// readJobEnv reads the environment; getenv is os.Getenv when nil.
func readJobEnv(getenv func(string) string) jobEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	return jobEnv{Index: getenv(envJobIndex), Completions: getenv(envJobCompletions)}
}
