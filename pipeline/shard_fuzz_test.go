package pipeline

import (
	"testing"
)

// FuzzParseShard: --shard and the Job's environment are untrusted text:
// never a panic, and an accepted shard is valid and prints back.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "9999/10000", "4/4", "-1/2", "1/-2", "", "/", "1/", "00/01", "+1/2", "1/2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		if sh.Valid() != nil {
			t.Fatalf("%q accepted as %v, which is not valid", s, sh)
		}
		if again, err := ParseShard(sh.String()); err != nil || again != sh {
			t.Fatalf("%q -> %v -> %v, %v", s, sh, again, err)
		}
	})
}

// FuzzShardManifest: a shard manifest is read back from storage anyone may
// have written to: never a panic, and an accepted one is self-consistent.
func FuzzShardManifest(f *testing.F) {
	f.Add([]byte(`{"shard_manifest_version":1,"shard":0,"shards":2,"input_set":"x","units":1,"captures":1,"settings":{},"selected":[{"key":"a.pcap","first":0,"captures":1}],"skipped":[],"manifest":{"manifest_version":1,"inputs":[],"outputs":[]}}`))
	f.Add([]byte(`{"shard_manifest_version":1,"shard":1,"shards":1}`))
	f.Add([]byte(`{"shard_manifest_version":1,"shard":0,"shards":1,"manifest":{}} {}`))
	f.Add([]byte(`{"shard_manifest_version":1,"shard":0,"shards":1,"extra":1,"manifest":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, err := decodeShardManifest(b, 0)
		if err != nil {
			return
		}
		if sm.Shard != 0 || sm.Manifest == nil || (Shard{Index: sm.Shard, Count: sm.Shards}).Valid() != nil {
			t.Fatalf("accepted %+v", sm)
		}
	})
}
