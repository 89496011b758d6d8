package s3test

import (
	"os/exec"
	"syscall"
)

// dieWithParent ends the server with the test process, even when that is
// killed (a test timeout) before its cleanup runs.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
