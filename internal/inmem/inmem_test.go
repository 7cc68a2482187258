package inmem

import (
	"testing"
	"time"

	"mirror/internal/storetest"
)

func TestContract(t *testing.T) {
	storetest.ExerciseRecords(t, false, func(t *testing.T) storetest.Records { return New(1000, time.Hour) })
}
