// Package trail writes the fulfillment logs: the append-only trail an
// operator reads to learn what happened to an order or request, by whom,
// under which correlation id. Entries are written in the caller's
// transaction, so a rolled-back operation leaves no half-written trail.
package trail

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/internal/auth"
)

// Levels.
const (
	Info  = fulfillmentlog.LevelINFO
	Warn  = fulfillmentlog.LevelWARN
	Error = fulfillmentlog.LevelERROR
)

// Entry is one log entry to write.
type Entry struct {
	OrderID int // 0: none
	FRID    int // 0: none
	Stage   string
	Level   fulfillmentlog.Level
	Message string
	Data    map[string]any
}

// NewCorrelationID returns a fresh id for one operation.
func NewCorrelationID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Writer writes entries under one correlation id.
type Writer struct {
	CorrelationID string
	// AccountID is used when ctx carries no account (system work).
	AccountID int
}

// New returns a writer with a fresh correlation id.
func New() *Writer { return &Writer{CorrelationID: NewCorrelationID()} }

// Builder returns the create builder for e without saving it, so that callers
// can batch entries with CreateBulk.
func (w *Writer) Builder(ctx context.Context, c *ent.FulfillmentLogClient, e Entry) *ent.FulfillmentLogCreate {
	level := e.Level
	if level == "" {
		level = Info
	}
	b := c.Create().
		SetCorrelationID(w.CorrelationID).
		SetStage(e.Stage).
		SetLevel(level).
		SetMessage(e.Message).
		SetActor(auth.Actor(ctx))
	if e.Data != nil {
		b.SetData(e.Data)
	}
	if e.OrderID != 0 {
		b.SetOrderID(e.OrderID)
	}
	if e.FRID != 0 {
		b.SetFulfillmentRequestID(e.FRID)
	}
	if w.AccountID != 0 {
		b.SetAccountID(w.AccountID)
	}
	return b
}

// Write saves entries in one statement.
func (w *Writer) Write(ctx context.Context, c *ent.FulfillmentLogClient, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	builders := make([]*ent.FulfillmentLogCreate, len(entries))
	for i, e := range entries {
		builders[i] = w.Builder(ctx, c, e)
	}
	return c.CreateBulk(builders...).Exec(ctx)
}
