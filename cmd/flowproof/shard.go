package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/flowproof/flowproof/pipeline"
)

// resolveShard decides the shard of an analyze run: --shard when given,
// else the Indexed Job's JOB_COMPLETION_INDEX/JOB_COMPLETIONS when both are
// set; both given and disagreeing is an error (a pod template and its flags
// that do not match). nil: not sharded.
func resolveShard(flagValue string, env jobEnv) (*pipeline.Shard, error) {
	var fromEnv *pipeline.Shard
	switch {
	case env.Index != "" && env.Completions != "":
		sh, err := pipeline.ParseShard(env.Index + "/" + env.Completions)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("%s=%q and %s=%q: %v", envJobIndex, env.Index, envJobCompletions, env.Completions, err)}
		}
		fromEnv = &sh
	case env.Index != "" || env.Completions != "":
		return nil, &usageError{fmt.Sprintf("%s=%q and %s=%q: a Kubernetes Indexed Job sets both; set both or neither", envJobIndex, env.Index, envJobCompletions, env.Completions)}
	}
	if flagValue == "" {
		return fromEnv, nil
	}
	sh, err := pipeline.ParseShard(flagValue)
	if err != nil {
		return nil, &usageError{"--shard: " + err.Error()}
	}
	if fromEnv != nil && *fromEnv != sh {
		return nil, &usageError{fmt.Sprintf("--shard %s disagrees with the Job's %s/%s = %s: drop one", sh, envJobIndex, envJobCompletions, fromEnv)}
	}
	return &sh, nil
}

// analyzeShard runs one shard of a sharded analysis into o.out.
func analyzeShard(ctx context.Context, o analyzeOptions, inputs []string, command []string, stdout, stderr io.Writer) error {
	po := o.options(command, stderr)
	st, closeStore, err := pipeline.OpenStore(ctx, o.out, po.S3)
	if err != nil {
		return err
	}
	defer closeStore()
	res, err := pipeline.AnalyzeShard(ctx, inputs, po, *o.shardSpec, st)
	if res != nil {
		fmt.Fprintf(stdout, "flowproof: shard %s: %d of %d units, %d flows from %d captures (%d packets) -> %s\n",
			res.Shard, len(res.Manifest.Selected), res.Units, res.Flows, res.Captures, res.Packets, o.out)
	}
	if errors.Is(err, pipeline.ErrPartial) {
		return errPartial
	}
	return err
}
