package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// defaultMemProfileRate is the runtime's sampling rate as the program
// starts (package variables are set before main turns it off).
var defaultMemProfileRate = runtime.MemProfileRate

// startProfiles starts a CPU profile into cpuPath (when set) and returns a
// function that stops it and writes a heap profile into memPath (when set).
func startProfiles(cpuPath, memPath string) (stop func() error, err error) {
	if memPath != "" {
		runtime.MemProfileRate = defaultMemProfileRate
	}
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
		}
		if memPath == "" {
			return nil
		}
		f, err := os.Create(memPath)
		if err != nil {
			return fmt.Errorf("memory profile: %w", err)
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("memory profile: %w", err)
		}
		return f.Close()
	}, nil
}
