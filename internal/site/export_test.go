package site

// CacheStats reports the cache's entries, the bytes they are charged and the
// descriptors they hold, for tests of the external package.
func (s *Site) CacheStats() (entries int, bytes int64, open int) { return s.cache.stats() }
