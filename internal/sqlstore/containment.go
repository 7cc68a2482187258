package sqlstore

import (
	"context"
)

// ContainedModels lists the catalog models currently contained (catalog.Containment).
func (db *DB) ContainedModels(ctx context.Context) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, db.q(`SELECT target_id FROM containments WHERE target_kind = 'catalog_model' AND contained = ?`), true)
	if err != nil {
		return nil, mapErr("list contained models", err, "")
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("list contained models", err, "")
		}
		ids = append(ids, id)
	}
	return ids, mapErr("list contained models", rows.Err(), "")
}
