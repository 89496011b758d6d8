package reporttables

import (
	"reflect"
	"testing"
)

func TestTables(t *testing.T) {
	md := "# r\n\n<!-- table: a -->\n| x |\n|---|\n| 1 |\n\ntext\n<!-- table: b incomplete -->\n| y |\n<!-- table: outputs -->\n| z |\n"
	got := Tables(md, "outputs")
	want := map[string]string{"a": "| x |\n|---|\n| 1 |", "b incomplete": "| y |"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	if d := Diff(want, got); len(d) != 0 {
		t.Errorf("diff of equal: %v", d)
	}
	if d := Diff(want, map[string]string{"a": "| x |"}); len(d) != 2 {
		t.Errorf("diff: %v", d)
	}
}
