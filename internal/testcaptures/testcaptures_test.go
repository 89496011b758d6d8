package testcaptures

import (
	"os"
	"testing"
)

func TestTwoDays(t *testing.T) {
	in, err := TwoDays("../..")
	if err != nil || len(in) < 3 {
		t.Fatalf("%v, %v", in, err)
	}
	for _, p := range in {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}
