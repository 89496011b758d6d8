package analyze

// SetEagerTCPState makes tables give every TCP flow its TCP state at its
// first packet instead of its second, until it is called with false: the
// referee of TestLazyTCPState.
func SetEagerTCPState(on bool) { eagerTCPState = on }
