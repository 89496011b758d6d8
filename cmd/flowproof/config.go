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
	// Object storage (s3:// inputs and -o): the standard AWS variables.
	// Without the keys, the AWS SDK's chain is used: the shared files
	// (~/.aws/credentials and config, for AWS_PROFILE), then the instance's
	// or pod's role; that chain reads its own variables (AWS_CONFIG_FILE,
	// AWS_SHARED_CREDENTIALS_FILE, AWS_WEB_IDENTITY_TOKEN_FILE, ...).
	// The keys are never logged or written to any output.
	envAWSAccessKeyID     = "AWS_ACCESS_KEY_ID"
	envAWSSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	envAWSSessionToken    = "AWS_SESSION_TOKEN"
	envAWSRegion          = "AWS_REGION"
	envAWSDefaultRegion   = "AWS_DEFAULT_REGION" // when AWS_REGION is unset
	envAWSProfile         = "AWS_PROFILE"
	envAWSEndpointS3      = "AWS_ENDPOINT_URL_S3" // --s3-endpoint's default
	envAWSEndpoint        = "AWS_ENDPOINT_URL"    // when AWS_ENDPOINT_URL_S3 is unset

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

// awsEnv is the object storage settings the environment gives.
type awsEnv struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Region, Profile, Endpoint                  string
}

// readAWSEnv reads the environment; getenv is os.Getenv outside tests.
func readAWSEnv(getenv func(string) string) awsEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	first := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	return awsEnv{
		AccessKeyID:     getenv(envAWSAccessKeyID),
		SecretAccessKey: getenv(envAWSSecretAccessKey),
		SessionToken:    getenv(envAWSSessionToken),
		Region:          first(envAWSRegion, envAWSDefaultRegion),
		Profile:         getenv(envAWSProfile),
		Endpoint:        first(envAWSEndpointS3, envAWSEndpoint),
	}
}
