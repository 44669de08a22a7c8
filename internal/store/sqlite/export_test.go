package sqlite

import (
	"context"
	"database/sql"
)

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int { return len(migrations()) }

// BatchSlots is the most records one access-log batch holds.
const BatchSlots = batchSlots

// CreateAtVersion creates the database at path with the schema of an
// earlier version, as a binary of that release would have left it.
func CreateAtVersion(ctx context.Context, path string, version int) error {
	db, err := sql.Open("sqlite", dsn(path, writerParams()))
	if err != nil {
		return err
	}
	defer db.Close()
	return migrateSteps(ctx, db, migrations()[:version])
}
