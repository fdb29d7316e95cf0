package app

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"keypool/app/tokens"
)

// component is a long-lived part of a running App. Run does its work until
// ctx is done, then stops whatever it started and returns; it returns early
// only when it fails (which stops the whole app) or has nothing to do.
type component interface {
	Run(ctx context.Context) error
}

// runInOrder runs the components of every stage at once under one
// errgroup, until ctx is done or one of them fails. Then it stops them
// stage by stage in the order given: it cancels a stage's components
// together and waits until all of them have returned before it cancels the
// next stage. It returns the first error.
func runInOrder(ctx context.Context, stages ...[]component) error {
	g, stopping := errgroup.WithContext(ctx)
	type stage struct {
		stop  context.CancelFunc
		ended sync.WaitGroup
	}
	ss := make([]*stage, len(stages))
	for i, parts := range stages {
		// A stage's context ends only when its turn comes, not with ctx.
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s := &stage{stop: stop}
		ss[i] = s
		for _, c := range parts {
			s.ended.Add(1)
			g.Go(func() error {
				defer s.ended.Done()
				return c.Run(sctx)
			})
		}
	}
	g.Go(func() error {
		<-stopping.Done()
		for _, s := range ss {
			s.stop()
			s.ended.Wait()
		}
		return nil
	})
	return g.Wait()
}

// refresher refreshes OAuth tokens ahead of expiry in the background.
type refresher struct {
	tokens   *tokens.Manager
	accounts func() []string // the accounts to keep fresh
}

// refreshWait is how long stopping waits for refreshes in flight.
const refreshWait = 30 * time.Second

// Run refreshes until ctx is done, then waits (up to refreshWait) for the
// refreshes in flight, its own and those requests started: a refresh that
// rotated a token must save it before the store and the process go.
func (r refresher) Run(ctx context.Context) error {
	err := r.tokens.RunRefresher(ctx, r.accounts, time.Minute, 5*time.Minute)
	wait, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshWait)
	defer cancel()
	r.tokens.Wait(wait)
	return err
}
