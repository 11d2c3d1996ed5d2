// Command partner is a starting point for a supplier (a "source") that
// fulfills orders through the fulfillment service's partner API. With the
// SOURCE API key the merchant gave it, it lists the source's fulfillment
// requests that were delivered but not yet confirmed (status PROCESSED),
// acknowledges each one and ships it in full. It also picks up the requests
// it acknowledged but did not ship in full (status ACKNOWLEDGED, something
// left to ship: a run that died between the two steps) and ships them
// without acknowledging them again.
//
// A real integration would hand each request to its warehouse, acknowledge
// it once the warehouse accepts it, and create the shipment with the
// carrier's tracking number once the parcel leaves; here both happen at once
// and the tracking number is made up from a prefix and the request's number.
//
// It talks to the service through the typed client of package client
// (github.com/frsvc/fulfillment/client): every call is a Go function
// generated from a GraphQL operation of client/operations, with Go types for
// its variables and answer.
//
//	go run ./examples/partner -url http://localhost:8080 -key "$SOURCE_KEY"
//
// See README.md beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"

	"github.com/frsvc/fulfillment/client"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "partner:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "partner:", err)
		os.Exit(1)
	}
}

// Config is what the example needs: where the service is, the source's key
// and how to fill in the shipments.
type Config struct {
	// BaseURL is the service's address, without /query.
	BaseURL string
	// Key is a SOURCE API key.
	Key string
	// Carrier names the carrier on the shipments.
	Carrier string
	// TrackingPrefix starts the made-up tracking numbers.
	TrackingPrefix string
	// DryRun lists the requests and changes nothing.
	DryRun bool
	// Timeout bounds each call to the service.
	Timeout time.Duration
	// PageSize is how many requests to read a page; 0 means 50.
	PageSize int
	// HTTPClient is the client to send through (for its transport, say);
	// nil means a plain http.Client. Timeout, when set, replaces its own.
	HTTPClient *http.Client
}

// parseConfig reads the flags, each with an environment variable.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("partner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c Config
	fs.StringVar(&c.BaseURL, "url", or("FULFILLMENT_URL", "http://localhost:8080"), "the service's base URL (FULFILLMENT_URL)")
	fs.StringVar(&c.Key, "key", getenv("FULFILLMENT_SOURCE_KEY"), "the source's API key (FULFILLMENT_SOURCE_KEY)")
	fs.StringVar(&c.Carrier, "carrier", or("FULFILLMENT_CARRIER", "UPS"), "the carrier on the shipments (FULFILLMENT_CARRIER)")
	fs.StringVar(&c.TrackingPrefix, "tracking-prefix", or("FULFILLMENT_TRACKING_PREFIX", "TRK-"), "prefix of the made-up tracking numbers (FULFILLMENT_TRACKING_PREFIX)")
	fs.BoolVar(&c.DryRun, "dry-run", false, "list the requests, change nothing")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "bound on each call to the service")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Key == "" {
		return Config{}, errors.New("a SOURCE API key is required: -key or FULFILLMENT_SOURCE_KEY")
	}
	return c, nil
}

// Summary counts what a run did.
type Summary struct {
	Found, Acknowledged, Shipped, Failed int
	// Resumed counts the requests found already ACKNOWLEDGED (by an
	// earlier run that stopped before shipping them): they are shipped
	// without being acknowledged again.
	Resumed int
}

// Request is what the example reads of a fulfillment request: the fragment
// SourceFulfillmentRequestFields of client/operations/partner.graphql.
type Request = client.SourceFulfillmentRequestFields

// run lists the source's requests to handle (see pending), then
// acknowledges each PROCESSED one and ships what is left of every one. A
// request that fails is reported and skipped; run then returns an
// error after trying the others. Errors the service answered carry its
// code: client.ErrorCode(err).
func run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	c := newClient(cfg)
	var sum Summary

	v, err := client.Viewer(ctx, c)
	if err != nil {
		return sum, explain(err)
	}
	if v.Viewer.Role != client.ApiKeyRoleSource || v.Viewer.Source == nil {
		article := "a"
		if r := string(v.Viewer.Role); r != "" && strings.ContainsRune("AEIOU", rune(r[0])) {
			article = "an"
		}
		return sum, fmt.Errorf("the key is %s %s key: use the SOURCE key of your source", article, v.Viewer.Role)
	}
	src := v.Viewer.Source
	fmt.Fprintf(out, "Signed in as source %s (%s).\n", src.Code, src.Name)

	// Read the whole list first: acknowledging and shipping a request
	// moves it in or out of the filter, which would shift the pages under
	// our feet.
	todo, err := pending(ctx, c, cfg.PageSize)
	if err != nil {
		return sum, err
	}
	sum.Found = len(todo)
	fmt.Fprintf(out, "%d fulfillment request(s) to handle.\n", len(todo))
	for _, fr := range todo {
		to := fr.Order.ShipTo
		fmt.Fprintf(out, "%s (order %s, to %s, %s %s): %d item(s)\n", fr.Number, fr.Order.OrderNumber,
			deref(to.Name), to.PostalCode, to.Country, len(fr.Items))
		if cfg.DryRun {
			continue
		}
		if err := handle(ctx, c, cfg, src.Code, fr, &sum, out); err != nil {
			sum.Failed++
			fmt.Fprintf(out, "  failed: %v\n", err)
		}
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%d of %d request(s) failed", sum.Failed, sum.Found)
	}
	return sum, nil
}

// newClient returns the typed client of the service for cfg: every request
// carries the key as a bearer token and is bounded by cfg.Timeout.
func newClient(cfg Config) graphql.Client {
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	if cfg.Timeout > 0 {
		hc.Timeout = cfg.Timeout
	}
	return client.New(cfg.BaseURL, cfg.Key, client.WithHTTPClient(&hc))
}

// pending pages through the source's requests to handle: the PROCESSED
// ones, to acknowledge and ship, and the ACKNOWLEDGED ones with something
// left to ship (shipment status AWAITING_SHIPMENT or PARTIALLY_SHIPPED), to
// ship: those an earlier run acknowledged and then died before shipping. A
// SOURCE key sees only its own source's requests, so there is no source
// filter.
func pending(ctx context.Context, c graphql.Client, pageSize int) ([]Request, error) {
	if pageSize <= 0 {
		pageSize = 50
	}
	var all []Request
	var after *string // nil: the first page
	for {
		res, err := client.ListSourceFulfillmentRequestsToHandle(ctx, c, pageSize, after)
		if err != nil {
			return nil, explain(err)
		}
		page := res.FulfillmentRequests
		for _, e := range page.Edges {
			if e == nil || e.Node == nil {
				continue
			}
			// The filter already says so; an ACKNOWLEDGED request with
			// nothing left per item is not ours to touch all the same.
			if e.Node.Status == client.FulfillmentRequestStatusAcknowledged && len(left(*e.Node)) == 0 {
				continue
			}
			all = append(all, *e.Node)
		}
		if !page.PageInfo.HasNextPage {
			return all, nil
		}
		if page.PageInfo.EndCursor == nil {
			return nil, errors.New("the service announced another page without a cursor")
		}
		after = page.PageInfo.EndCursor
	}
}

// handle acknowledges one request, unless it is ACKNOWLEDGED already (an
// earlier run died before shipping it), and ships what is left of it. Each
// mutation carries an Idempotency-Key made of the source and the request's
// id, the same on every run: sending it again (after a dropped answer, say)
// returns the first answer and does nothing twice.
func handle(ctx context.Context, c graphql.Client, cfg Config, source string, fr Request, sum *Summary, out io.Writer) error {
	if fr.Status == client.FulfillmentRequestStatusAcknowledged {
		sum.Resumed++
		fmt.Fprintln(out, "  acknowledged already: shipping what is left")
	} else {
		confirmation := source + "-" + fr.Number
		ack, err := client.AcknowledgeFulfillmentRequest(
			client.WithIdempotencyKey(ctx, idempotencyKey(source, "ack", fr.Id)), c, fr.Id, &confirmation)
		if err != nil {
			return fmt.Errorf("acknowledge: %w", explain(err))
		}
		sum.Acknowledged++
		fmt.Fprintf(out, "  acknowledged as %s\n", deref(ack.AcknowledgeFulfillmentRequest.ConfirmationNumber))
	}

	input := client.CreateShipmentInput{
		FulfillmentRequestID: fr.Id,
		TrackingNumber:       cfg.TrackingPrefix + fr.Number,
		Carrier:              &cfg.Carrier,
		Items:                left(fr),
	}
	if len(input.Items) == 0 {
		fmt.Fprintln(out, "  nothing left to ship")
		return nil
	}
	ship, err := client.CreateShipment(
		client.WithIdempotencyKey(ctx, idempotencyKey(source, "ship", fr.Id)), c, input)
	if err != nil {
		return fmt.Errorf("ship: %w", explain(err))
	}
	sum.Shipped++
	fmt.Fprintf(out, "  shipped with %s %s: %s\n", deref(ship.CreateShipment.Carrier), ship.CreateShipment.TrackingNumber,
		ship.CreateShipment.FulfillmentRequest.ShipmentStatus)
	return nil
}

// left is what is left to ship of each item of fr (quantity - shipped -
// canceled), leaving out the items with nothing left.
func left(fr Request) []client.ShipmentItemInput {
	var items []client.ShipmentItemInput
	for _, it := range fr.Items {
		if n := it.Quantity - it.ShippedQuantity - it.CanceledQuantity; n > 0 {
			items = append(items, client.ShipmentItemInput{FulfillmentRequestItemID: it.Id, Quantity: n})
		}
	}
	return items
}

// idempotencyKey is the Idempotency-Key of one step (ack, ship) of a
// request: partner-<source>-<step>-<id>.
func idempotencyKey(source, step, id string) string {
	return fmt.Sprintf("partner-%s-%s-%s", source, step, id)
}

// explain words an error the service answered as its code and message,
// "VALIDATION: tracking number … is already used (trackingNumber)", rather
// than as the raw answer; client.ErrorCode and errors.As still see through
// it. Other errors (network, timeout) are returned as they are.
func explain(err error) error {
	list := client.Errors(err)
	if len(list) == 0 {
		return err
	}
	msg := strings.TrimSpace(list[0].Message)
	var httpErr *graphql.HTTPError
	if code := client.ErrorCode(err); code != "" {
		msg = code + ": " + msg
	} else if errors.As(err, &httpErr) { // not a GraphQL answer: a wrong -url, a proxy
		msg = fmt.Sprintf("HTTP %d: %.200s", httpErr.StatusCode, msg)
	}
	if field, ok := list[0].Extensions["field"].(string); ok && field != "" {
		msg += " (" + field + ")"
	}
	return &serviceError{msg: msg, err: err}
}

type serviceError struct {
	msg string
	err error
}

func (e *serviceError) Error() string { return e.msg }
func (e *serviceError) Unwrap() error { return e.err }

// deref returns *s, or "" for nil (a nullable field the service left out).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
