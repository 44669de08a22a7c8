package sqlite

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int { return len(migrations()) }
