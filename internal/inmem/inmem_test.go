package inmem

import (
	"testing"
	"time"

	"mirror/internal/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, false, func(t *testing.T) storetest.Store { return New(1000, time.Hour) })
}
