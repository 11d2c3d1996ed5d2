// Package trail writes the fulfillment logs: the append-only trail an
// operator reads to learn what happened to an order or request, by whom,
// under which correlation id. Entries are written in the caller's
// transaction, so a rolled-back operation leaves no half-written trail.
package trail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"

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
		SetMessage(oneLine(e.Message)).
		SetActor(auth.Actor(ctx))
	if e.Data != nil {
		b.SetData(normalize(e.Data))
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

// normalize gives data the shape the API shows everywhere: ids are strings
// (a key "id", or ending in "ID" or "IDs", holding whole numbers), and text
// is one line (line breaks, tabs and other control characters become
// spaces), so that no entry carries a literal \n. Structs are taken as
// their JSON.
func normalize(data map[string]any) map[string]any {
	raw, err := json.Marshal(data)
	if err != nil {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if dec.Decode(&out) != nil {
		return data
	}
	for k, v := range out {
		out[k] = normalizeValue(isIDKey(k), v)
	}
	return out
}

func isIDKey(k string) bool {
	return k == "id" || strings.HasSuffix(k, "ID") || strings.HasSuffix(k, "IDs") || strings.HasSuffix(k, "Id")
}

func normalizeValue(id bool, v any) any {
	switch v := v.(type) {
	case json.Number:
		if _, err := v.Int64(); id && err == nil {
			return v.String()
		}
		return v
	case string:
		return oneLine(v)
	case []any:
		for i := range v {
			v[i] = normalizeValue(id, v[i])
		}
		return v
	case map[string]any:
		for k, x := range v {
			v[k] = normalizeValue(isIDKey(k), x)
		}
		return v
	}
	return v
}

// oneLine replaces control characters (line breaks, tabs) with spaces.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
