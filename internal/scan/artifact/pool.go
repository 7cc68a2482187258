package artifact

import "sync"

// freeList recycles up to max values. Unlike sync.Pool it keeps them across
// garbage collections, so a scanning service's working memory (pickle machine
// arenas, stream windows, archive scratch) stays allocated and warm instead of
// being faulted in again after every collection. What it holds is bounded by
// max times the size each caller admits back.
type freeList[T any] struct {
	mu   sync.Mutex
	max  int
	list []*T
	make func() *T
}

func newFreeList[T any](max int, make func() *T) *freeList[T] {
	return &freeList[T]{max: max, make: make}
}

func (f *freeList[T]) get() *T {
	f.mu.Lock()
	if n := len(f.list); n > 0 {
		v := f.list[n-1]
		f.list[n-1] = nil
		f.list = f.list[:n-1]
		f.mu.Unlock()
		return v
	}
	f.mu.Unlock()
	return f.make()
}

func (f *freeList[T]) put(v *T) {
	f.mu.Lock()
	if len(f.list) < f.max {
		f.list = append(f.list, v)
	}
	f.mu.Unlock()
}
