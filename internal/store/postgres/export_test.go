package postgres

// ListenerPID exposes the backend pid of the store's LISTEN connection (0
// while it reconnects) to the tests.
func ListenerPID(s *Store) uint32 { return s.listener.get() }

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int { return len(migrations()) }
