package routing

import "context"

// budget is the search allowance shared by everything one Route call does.
// Running out is sticky: once out, every later step fails at once, so that all
// searches unwind quickly and report what they have.
type budget struct {
	ctx  context.Context
	max  int
	used int
	out  bool
}

func newBudget(ctx context.Context, maxNodes int) *budget {
	return &budget{ctx: ctx, max: maxNodes}
}

// step accounts for one unit of work and reports whether it may go ahead.
// The context is polled only every 64 steps: its Err takes a lock, and a
// step is often much cheaper than that.
func (b *budget) step() bool {
	if b.out {
		return false
	}
	b.used++
	if b.max > 0 && b.used > b.max {
		b.out = true
		return false
	}
	if b.used&63 == 1 && b.ctx.Err() != nil {
		b.out = true
		return false
	}
	return true
}
