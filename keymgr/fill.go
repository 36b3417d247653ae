package keymgr

import (
	"context"
	"runtime/debug"
	"sync"
	"time"
)

// Completing deferred pre-made signatures (Config.DeferPremade) is paced so that the queries
// right after a start of thousands of zones keep the CPU: each zone costs fourteen more
// signatures and a saved document, about 1.2 ms of CPU with the garbage they make (measured
// with 10,000 zones on 2 CPUs: 500 zones a second took 0.6 of one CPU), so fillRate zones a
// second take about a third of one CPU, and 10,000 zones are complete 40 s after the start.
// fillWorkers zones are completed at once, so that their saves share the state store's
// barriers.
const (
	fillRate    = 250
	fillWorkers = 8
)

// windows is how many validity windows of pre-made signatures a ring built for z now gets:
// the first alone while AddZone starts it and Config.DeferPremade is set, else PremadeCount.
// Call with z.mu held.
func (m *Manager) windows(z *zone) int {
	if m.cfg.DeferPremade && z.starting {
		return 1
	}
	return PremadeCount
}

// fillLater marks z's ring as having only the first window of its pre-made signatures, and
// queues z for Run to complete them. Call with z.mu held, after install.
func (m *Manager) fillLater(z *zone) {
	z.partial = true
	m.fillMu.Lock()
	m.fillQ = append(m.fillQ, z)
	m.fillMu.Unlock()
	select {
	case m.fillWake <- struct{}{}:
	default:
	}
}

// nextFill takes the next zone queued by fillLater, nil when there is none.
func (m *Manager) nextFill() *zone {
	m.fillMu.Lock()
	defer m.fillMu.Unlock()
	if len(m.fillQ) == 0 {
		m.fillQ = nil // let a start's queue of thousands go
		return nil
	}
	z := m.fillQ[0]
	m.fillQ[0] = nil
	m.fillQ = m.fillQ[1:]
	return z
}

// fillPremade completes, until ctx ends, the pre-made signatures of the zones fillLater
// queues: at most fillRate zones a second, fillWorkers at once. A zone whose KSK cannot sign
// then keeps the ring it serves, turns ACTION_NEEDED and is retried by the loop, as at any
// refresh; the loop also refreshes a zone still partial when its signatures are a
// PremadeStep old, so nothing rests on this alone.
func (m *Manager) fillPremade(ctx context.Context) {
	tick := time.NewTicker(time.Second / fillRate)
	defer tick.Stop()
	work := make(chan *zone)
	var wg sync.WaitGroup
	for range fillWorkers {
		wg.Go(func() {
			for z := range work {
				m.fill(ctx, z)
			}
		})
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	for {
		z := m.nextFill()
		if z == nil {
			select {
			case <-ctx.Done():
				return
			case <-m.fillWake:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case <-ctx.Done():
			return
		case work <- z:
		}
	}
}

// fill completes z's pre-made signatures by a refresh (all PremadeCount windows, saved), if
// its ring still lacks them.
func (m *Manager) fill(ctx context.Context, z *zone) {
	var flipped, retry bool
	func() {
		z.mu.Lock()
		defer z.mu.Unlock()
		defer func() {
			if r := recover(); r != nil {
				m.log.Error("completing pre-made signatures panicked", "zone", z.name, "panic", r, "stack", string(debug.Stack()))
			}
		}()
		if !z.partial || z.st == nil || !z.st.Signing || z.pending != nil || ctx.Err() != nil {
			return // done already, or the server stops: the next start signs again
		}
		was := z.signed.Load()
		m.refresh(ctx, z, m.cfg.Now())
		flipped = was != z.signed.Load()
		retry = !z.retryAt.IsZero()
		z.publish()
	}()
	if retry {
		m.poke() // the loop's next deadline moved closer
	}
	if flipped {
		m.changed(z.name)
	}
}
