package sqlstore

import (
	"context"
)

// ContainedModels lists the catalog models currently contained (catalog.Containment).
func (db *DB) ContainedModels(ctx context.Context) ([]string, error) {
	var ids []string
	err := db.query(ctx, "list contained models", `SELECT target_id FROM containments WHERE target_kind = 'catalog_model' AND contained = ?`,
		[]any{true}, func(r rowScanner) error {
			var id string
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		})
	return ids, err
}
