package crosscheck

import "time"

func unixNs(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000Z") }

func durString(ns int64) string { return time.Duration(ns).String() }
