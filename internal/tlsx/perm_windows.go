package tlsx

// checkKeyPerms does nothing on Windows, where Unix modes do not describe
// who may read a file (ACLs do).
func checkKeyPerms(string) error { return nil }
