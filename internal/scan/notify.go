package scan

import (
	"context"
	"sync"
)

// Notifier tells watchers that a scan changed. Publish never blocks; a notification
// carries only the scan id, and watchers re-read the status from the store, so a
// dropped or duplicated notification costs at most a poll interval.
type Notifier interface {
	Publish(ctx context.Context, scanID string)
	// Subscribe returns a channel that receives a value after scanID changes, and a
	// function that ends the subscription.
	Subscribe(scanID string) (<-chan struct{}, func())
}

// Broker is the in-process Notifier. Other instances learn of changes through a
// cross-instance Notifier (Postgres LISTEN/NOTIFY or Redis pub/sub) that feeds Local.
type Broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// NewBroker returns an empty Broker.
func NewBroker() *Broker { return &Broker{subs: map[string]map[chan struct{}]struct{}{}} }

// Publish wakes every subscriber of scanID; a subscriber that has a wake-up
// pending already is not sent another (the channel holds one).
func (b *Broker) Publish(_ context.Context, scanID string) { b.Local(scanID) }

// Local delivers a change of scanID to this instance's subscribers only.
func (b *Broker) Local(scanID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[scanID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe implements Notifier.
func (b *Broker) Subscribe(scanID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[scanID] == nil {
		b.subs[scanID] = map[chan struct{}]struct{}{}
	}
	b.subs[scanID][ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[scanID], ch)
			if len(b.subs[scanID]) == 0 {
				delete(b.subs, scanID)
			}
			b.mu.Unlock()
		})
	}
}
