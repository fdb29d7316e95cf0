package app

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// runFunc is a component made of a function.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// stopLog records, in order, when each test component was told to stop and
// when it had stopped.
type stopLog struct {
	mu     sync.Mutex
	events []string
}

func (l *stopLog) note(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
}

// part runs until ctx is done, then takes linger (fake time) to stop.
func (l *stopLog) part(name string, linger time.Duration) component {
	return runFunc(func(ctx context.Context) error {
		<-ctx.Done()
		l.note("stop " + name)
		time.Sleep(linger)
		l.note("stopped " + name)
		return nil
	})
}

// before reports whether every event in first comes before every event in
// then.
func before(events []string, first, then []string) bool {
	last := -1
	for _, e := range first {
		last = max(last, slices.Index(events, e))
	}
	for _, e := range then {
		if i := slices.Index(events, e); i < 0 || i < last {
			return false
		}
	}
	return last >= 0
}

func TestRunInOrderStopsStageByStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l stopLog
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- runInOrder(ctx,
				[]component{l.part("server", 3*time.Second), l.part("control", time.Second)},
				[]component{l.part("refresher", 2*time.Second), l.part("quota", 0)},
				[]component{l.part("store", 0)})
		}()
		synctest.Wait()
		if len(l.events) != 0 {
			t.Fatalf("before ctx ends: %v, want nothing stopped", l.events)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("runInOrder = %v, want nil", err)
		}
		stage1 := []string{"stopped server", "stopped control"}
		stage2 := []string{"stop refresher", "stop quota"}
		if !before(l.events, stage1, stage2) {
			t.Errorf("events %v: want the first stage stopped before the second is told to", l.events)
		}
		if !before(l.events, []string{"stopped refresher", "stopped quota"}, []string{"stop store"}) {
			t.Errorf("events %v: want the second stage stopped before the store is told to", l.events)
		}
	})
}

func TestRunInOrderStopsAllWhenOneFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l stopLog
		broken := errors.New("broken")
		failing := runFunc(func(ctx context.Context) error {
			time.Sleep(time.Minute)
			l.note("failed")
			return broken
		})
		err := runInOrder(context.Background(),
			[]component{l.part("server", time.Second)},
			[]component{failing, l.part("quota", 0)},
			[]component{l.part("store", 0)})
		if !errors.Is(err, broken) {
			t.Errorf("runInOrder = %v, want %v", err, broken)
		}
		want := []string{"failed", "stop server", "stopped server", "stop quota", "stopped quota", "stop store", "stopped store"}
		if !slices.Equal(l.events, want) {
			t.Errorf("events = %v, want %v", l.events, want)
		}
	})
}
