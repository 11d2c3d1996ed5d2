package sender

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/filedrop"
	"github.com/frsvc/fulfillment/internal/netguard"
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
		out = r.deliverFile(src, doc)
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
		var refused *netguard.RefusedError
		if errors.As(err, &refused) {
			return Outcome{Kind: Rejected, Reason: fmt.Sprintf("%s: in production, connectors reach public addresses only "+
				"(--allow-private-urls lifts this)", refused.Error())}
		}
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
			resp.StatusCode, excerpt([]byte(resp.Header.Get("Location"))))
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		out.Kind, out.Reason = Retry, fmt.Sprintf("HTTP %d", resp.StatusCode)
	default:
		out.Kind, out.Reason = Rejected, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, excerpt(answer))
	}
	return out
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// maxExcerpt is how many characters of a source's answer a failure reason
// quotes.
const maxExcerpt = 64

// excerpt is the start of a source's answer, for the failure reason: at
// most maxExcerpt printable characters, every run of white space one space,
// control and format characters (terminal escapes, NUL, bidirectional
// overrides, zero-width characters) and invalid UTF-8 left out, and "…"
// when more followed.
func excerpt(b []byte) string {
	var sb strings.Builder
	n, space := 0, false
	for _, c := range string(b) {
		switch {
		case c == utf8.RuneError:
			continue
		case unicode.IsSpace(c):
			space = n > 0
			continue
		case !unicode.IsGraphic(c):
			continue
		}
		if n+btoi(space) >= maxExcerpt {
			sb.WriteString("…")
			break
		}
		if space {
			sb.WriteByte(' ')
			n++
			space = false
		}
		sb.WriteRune(c)
		n++
	}
	return sb.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// maxFileStem bounds the part of a drop's file name taken from the
// request's number, so that the name with its suffixes stays far below
// what file systems take (255 bytes).
const maxFileStem = 200

// fileName is the name of a document's drop: the request's number with
// every character but letters, digits, '.', '_' and '-' replaced by '_',
// ".cancel" for a cancellation, and the format's extension. A number
// longer than maxFileStem keeps its start and gains a hash of the whole.
func fileName(doc Document, format source.ConnectorFormat) string {
	stem := unsafeName.ReplaceAllString(doc.Number, "_")
	if len(stem) > maxFileStem {
		sum := sha256.Sum256([]byte(doc.Number))
		stem = stem[:maxFileStem-17] + "-" + hex.EncodeToString(sum[:8])
	}
	if doc.Type == "cancellation" {
		stem += ".cancel"
	}
	if format == source.ConnectorFormatCSV {
		return stem + ".csv"
	}
	return stem + ".json"
}

// deliverFile drops the document into the source's directory of its
// account's folder under the drop root (see filedrop.Write): whole or not
// at all, and never over a file still there. The same document found there
// already (a redelivery whose outcome was lost) counts as delivered; a
// different file of the name is left alone and the delivery retried, for
// the source may not have picked that one up yet.
func (r *Runner) deliverFile(src *ent.Source, doc Document) Outcome {
	data := doc.JSON()
	if src.ConnectorFormat == source.ConnectorFormatCSV {
		data = doc.CSV()
	}
	name := fileName(doc, src.ConnectorFormat)
	again, err := filedrop.Write(r.FileDropRoot, src.AccountID, src.ConnectorDirectory, name, data)
	switch {
	case err == nil && again:
		return Outcome{Kind: Delivered, Reason: "the same document was in the drop directory already"}
	case err == nil:
		return Outcome{Kind: Delivered}
	case errors.Is(err, filedrop.ErrBadDir):
		return Outcome{Kind: Rejected, Reason: fmt.Sprintf("the drop directory %q is not a folder inside the account's drop folder; "+
			"set the connector's directory to a relative path", excerpt([]byte(src.ConnectorDirectory)))}
	case errors.Is(err, filedrop.ErrEscapes):
		return Outcome{Kind: Rejected, Reason: "the drop directory leads out of the account's drop folder through a symbolic link; nothing was written"}
	case errors.Is(err, filedrop.ErrExists):
		return Outcome{Kind: Retry, Reason: fmt.Sprintf("a different file named %s is in the drop directory; it is not overwritten", name)}
	default:
		r.Logger.Warn("file drop", "source", src.ID, "error", err.Error())
		return Outcome{Kind: Retry, Reason: "cannot write to the drop directory"}
	}
}
