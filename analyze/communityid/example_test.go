package communityid_test

import (
	"fmt"
	"net/netip"

	"github.com/flowproof/flowproof/analyze/communityid"
)

func ExampleID() {
	client := netip.MustParseAddr("128.232.110.120")
	server := netip.MustParseAddr("66.35.250.204")

	// Both directions of the connection get the same ID.
	fmt.Println(communityid.ID(0, client, server, communityid.ProtoTCP, 34855, 80))
	fmt.Println(communityid.ID(0, server, client, communityid.ProtoTCP, 80, 34855))
	// Output:
	// 1:LQU9qZlK+B5F3KDmev6m5PMibrg=
	// 1:LQU9qZlK+B5F3KDmev6m5PMibrg=
}

func ExampleAppendID() {
	client := netip.MustParseAddr("128.232.110.120")
	server := netip.MustParseAddr("66.35.250.204")

	// An ID after other text, in one buffer.
	b := []byte("flow 7: ")
	b = communityid.AppendID(b, 0, client, server, communityid.ProtoTCP, 34855, 80)
	fmt.Println(string(b))
	// Output:
	// flow 7: 1:LQU9qZlK+B5F3KDmev6m5PMibrg=
}
