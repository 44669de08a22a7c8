package sqlite

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int { return len(migrations()) }

// LogChunk is how many records one access-log INSERT writes.
const LogChunk = logChunk
