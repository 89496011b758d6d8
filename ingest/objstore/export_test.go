package objstore

// PeakBuffers is the most part buffers ever alive at once in c's uploads.
func PeakBuffers(c *Client) int64 { return c.peakBufs.Load() }
