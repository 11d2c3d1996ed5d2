package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/source"
)

// OutcomeKind is how one delivery attempt ended.
type OutcomeKind string

// The outcomes.
const (
	Delivered    OutcomeKind = "delivered"    // reached the source, not acknowledged
	Acknowledged OutcomeKind = "acknowledged" // reached and acknowledged in the answer
	Rejected     OutcomeKind = "rejected"     // permanent refusal: do not retry
	Retry        OutcomeKind = "retry"        // transient failure: try again later
)

// Outcome is the result of one attempt.
type Outcome struct {
	Kind         OutcomeKind
	HTTPStatus   int
	Confirmation string
	Reason       string
	Duration     time.Duration
}

// maxAnswer bounds how much of a source's answer is read.
const maxAnswer = 64 << 10

// deliver sends a document through the source's connector. It holds no
// database transaction: the claim was committed before, the outcome is
// written after.
func (r *Runner) deliver(ctx context.Context, src *ent.Source, doc Document, idemKey string) Outcome {
	start := time.Now()
	var out Outcome
	switch src.ConnectorKind {
	case source.ConnectorKindMANUAL:
		out = Outcome{Kind: Delivered, Reason: "manual connector: nothing to send"}
	case source.ConnectorKindHTTP:
		out = r.deliverHTTP(ctx, src, doc, idemKey)
	case source.ConnectorKindFILE:
		out = deliverFile(src, doc)
	default:
		out = Outcome{Kind: Rejected, Reason: fmt.Sprintf("unknown connector kind %q", src.ConnectorKind)}
	}
	out.Duration = time.Since(start)
	return out
}

func (r *Runner) deliverHTTP(ctx context.Context, src *ent.Source, doc Document, idemKey string) Outcome {
	body := doc.JSON()
	timeout := time.Duration(src.ConnectorTimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, src.ConnectorURL, bytes.NewReader(body))
	if err != nil {
		return Outcome{Kind: Rejected, Reason: "the connector URL is not usable"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	req.Header.Set("Fulfillment-Signature", Sign(src.ConnectorSecret, body))
	req.Header.Set("User-Agent", "fulfillment-service/1")
	// Redirects are not followed: on 301, 302 and 303 Go's client would
	// turn the POST into a GET without the document and take the answer to
	// that as a delivery.
	client := *r.client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		reason := "network error"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			reason = fmt.Sprintf("timed out after %s", timeout)
		} else if isRefused(err) {
			reason = "connection refused"
		}
		return Outcome{Kind: Retry, Reason: reason}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	out := Outcome{HTTPStatus: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		var ack struct {
			Acknowledged       bool   `json:"acknowledged"`
			ConfirmationNumber string `json:"confirmationNumber"`
		}
		if json.Unmarshal(answer, &ack) == nil && ack.Acknowledged {
			out.Kind, out.Confirmation = Acknowledged, ack.ConfirmationNumber
		} else {
			out.Kind = Delivered
		}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.Kind, out.Reason = Rejected, fmt.Sprintf("HTTP %d: the connector URL redirects to %q; point the connector there",
			resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		out.Kind, out.Reason = Retry, fmt.Sprintf("HTTP %d", resp.StatusCode)
	default:
		out.Kind, out.Reason = Rejected, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, snippet(answer))
	}
	return out
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// snippet is the start of a source's answer, for the failure reason.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// deliverFile writes the document into the source's directory under a
// temporary name, then renames it, so that a reader never sees half a file.
func deliverFile(src *ent.Source, doc Document) Outcome {
	dir := src.ConnectorDirectory
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Outcome{Kind: Retry, Reason: "cannot create the drop directory"}
	}
	ext, data := ".json", doc.JSON()
	if src.ConnectorFormat == source.ConnectorFormatCSV {
		ext, data = ".csv", doc.CSV()
	}
	name := unsafeName.ReplaceAllString(doc.Number, "_")
	if doc.Type == "cancellation" {
		name += ".cancel"
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return Outcome{Kind: Retry, Reason: "cannot write to the drop directory"}
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return Outcome{Kind: Retry, Reason: "cannot write to the drop directory"}
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name+ext)); err != nil {
		_ = os.Remove(tmp.Name())
		return Outcome{Kind: Retry, Reason: "cannot write to the drop directory"}
	}
	return Outcome{Kind: Delivered}
}
