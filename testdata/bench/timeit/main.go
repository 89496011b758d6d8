// Command timeit runs a command and appends one line to a file: its
// wall-clock time and its CPU time (user + system) in seconds, and its peak
// RSS in KiB. compare.sh measures every run with it rather than with GNU
// time, whose %U and %S print hundredths of a second: about 1% of a bench
// run, the size of the differences issue 14's and 15's bars judge. The CPU
// time is the kernel's accounting of the child (wait4's rusage, in µs).
//
//	timeit OUT COMMAND [ARG...]
//
// The command's output goes to timeit's; its exit status becomes timeit's.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: timeit OUT COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

func run(out string, argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "timeit:", err)
		return 127
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "timeit: no resource usage on this system")
		return 1
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%.4f %.4f %d\n", wall.Seconds(), cpu.Seconds(), ru.Maxrss)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "timeit:", err)
		return 1
	}
	return cmd.ProcessState.ExitCode()
}
