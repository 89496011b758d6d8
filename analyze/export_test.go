package analyze

// SetEagerTCPState makes tables give every TCP flow its TCP state at its
// first packet instead of its second, until it is called with false: the
// referee of TestLazyTCPState.
func SetEagerTCPState(on bool) { eagerTCPState = on }

// SetPrefetchMin sets the index size from which tables prefetch (0: always)
// and returns a function that restores it: the referee of TestRecordHandOff.
func SetPrefetchMin(slots int) (restore func()) {
	old := prefetchMin
	prefetchMin = slots
	return func() { prefetchMin = old }
}

// SetFirstGSOBuckets sets the buckets a GSO table starts with and returns a
// function that restores it: TestVantageGSOTableGrows starts it at one.
func SetFirstGSOBuckets(n int) (restore func()) {
	old := firstGSOBuckets
	firstGSOBuckets = n
	return func() { firstGSOBuckets = old }
}
