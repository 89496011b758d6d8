// Package scenario builds the Kubeshark stand-in's captures and records:
// the cluster capture, its doubled form (every packet between two pods
// recorded at both ends), the list_l4_flows and list_api_calls answers that
// match them, and the disagreeing scenario of the cross-check's tests.
//
// The stand-in (package standin) serves the files this package wrote into
// its testdata, embedded; TestTestdata keeps them in step (go test
// ./ingest/kubeshark/standin/scenario -run TestTestdata -update rewrites
// them). The generator lives apart so that flowproof's binary does not link
// capgen and gopacket's layers, whose tables every garbage collection would
// scan; tests import it freely.
package scenario
