// Command partner is a starting point for a supplier (a "source") that
// fulfills orders through the fulfillment service's partner API. With the
// SOURCE API key the merchant gave it, it lists the source's fulfillment
// requests that were delivered but not yet confirmed (status PROCESSED),
// acknowledges each one and ships it in full.
//
// A real integration would hand each request to its warehouse, acknowledge
// it once the warehouse accepts it, and create the shipment with the
// carrier's tracking number once the parcel leaves; here both happen at once
// and the tracking number is made up from a prefix and the request's number.
//
// It uses only net/http and encoding/json, so that the GraphQL calls are in
// plain sight:
//
//	go run ./examples/partner -url http://localhost:8080 -key "$SOURCE_KEY"
//
// See README.md beside this file.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"
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
	// HTTPClient is the client to use; nil means http.DefaultClient.
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
}

// Request is what the example reads of a fulfillment request.
type Request struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	Status string `json:"status"`
	Order  struct {
		OrderNumber string `json:"orderNumber"`
		ShipTo      struct {
			Name       string `json:"name"`
			Line1      string `json:"line1"`
			City       string `json:"city"`
			PostalCode string `json:"postalCode"`
			Country    string `json:"country"`
		} `json:"shipTo"`
	} `json:"order"`
	Items []struct {
		ID               string `json:"id"`
		SKU              string `json:"sku"`
		Quantity         int    `json:"quantity"`
		ShippedQuantity  int    `json:"shippedQuantity"`
		CanceledQuantity int    `json:"canceledQuantity"`
	} `json:"items"`
}

// run lists the source's PROCESSED requests, then acknowledges and ships
// each. A request that fails is reported and skipped; run then returns an
// error after trying the others.
func run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	c := &client{base: cfg.BaseURL, key: cfg.Key, http: cfg.HTTPClient, timeout: cfg.Timeout}
	var sum Summary

	var v struct {
		Viewer struct {
			Role   string `json:"role"`
			Source *struct {
				Code string `json:"code"`
				Name string `json:"name"`
			} `json:"source"`
		} `json:"viewer"`
	}
	if err := c.do(ctx, `query { viewer { role source { code name } } }`, nil, "", &v); err != nil {
		return sum, err
	}
	if v.Viewer.Role != "SOURCE" || v.Viewer.Source == nil {
		return sum, fmt.Errorf("the key is a %s key: use the SOURCE key of your source", v.Viewer.Role)
	}
	src := v.Viewer.Source
	fmt.Fprintf(out, "Signed in as source %s (%s).\n", src.Code, src.Name)

	// Read the whole list first: acknowledging a request takes it out of
	// the PROCESSED filter, which would shift the pages under our feet.
	todo, err := c.processed(ctx, cfg.PageSize)
	if err != nil {
		return sum, err
	}
	sum.Found = len(todo)
	fmt.Fprintf(out, "%d fulfillment request(s) to handle.\n", len(todo))
	for _, fr := range todo {
		fmt.Fprintf(out, "%s (order %s, to %s, %s %s): %d item(s)\n", fr.Number, fr.Order.OrderNumber,
			fr.Order.ShipTo.Name, fr.Order.ShipTo.PostalCode, fr.Order.ShipTo.Country, len(fr.Items))
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

const processedQuery = `query($first: Int!, $after: Cursor) {
  fulfillmentRequests(first: $first, after: $after, where: {status: PROCESSED}, orderBy: {field: NUMBER, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id number status
      order { orderNumber shipTo { name line1 city postalCode country } }
      items { id sku quantity shippedQuantity canceledQuantity }
    } }
  }
}`

// processed pages through the source's PROCESSED requests.
func (c *client) processed(ctx context.Context, pageSize int) ([]Request, error) {
	if pageSize <= 0 {
		pageSize = 50
	}
	var all []Request
	var after any
	for {
		var page struct {
			FulfillmentRequests struct {
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
				Edges []struct {
					Node Request `json:"node"`
				} `json:"edges"`
			} `json:"fulfillmentRequests"`
		}
		if err := c.do(ctx, processedQuery, map[string]any{"first": pageSize, "after": after}, "", &page); err != nil {
			return nil, err
		}
		for _, e := range page.FulfillmentRequests.Edges {
			all = append(all, e.Node)
		}
		if !page.FulfillmentRequests.PageInfo.HasNextPage {
			return all, nil
		}
		after = page.FulfillmentRequests.PageInfo.EndCursor
	}
}

// handle acknowledges one request and ships what is left of it. Each call
// carries an Idempotency-Key, so that running the example again after a
// dropped answer does not act twice.
func handle(ctx context.Context, c *client, cfg Config, source string, fr Request, sum *Summary, out io.Writer) error {
	var ack struct {
		AcknowledgeFulfillmentRequest struct {
			Status             string `json:"status"`
			ConfirmationNumber string `json:"confirmationNumber"`
		} `json:"acknowledgeFulfillmentRequest"`
	}
	err := c.do(ctx, `mutation($id: ID!, $confirmation: String) {
  acknowledgeFulfillmentRequest(id: $id, confirmationNumber: $confirmation) { status confirmationNumber } }`,
		map[string]any{"id": fr.ID, "confirmation": source + "-" + fr.Number},
		fmt.Sprintf("partner-%s-ack-%s", source, fr.ID), &ack)
	if err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	sum.Acknowledged++
	fmt.Fprintf(out, "  acknowledged as %s\n", ack.AcknowledgeFulfillmentRequest.ConfirmationNumber)

	var items []map[string]any
	for _, it := range fr.Items {
		if left := it.Quantity - it.ShippedQuantity - it.CanceledQuantity; left > 0 {
			items = append(items, map[string]any{"fulfillmentRequestItemID": it.ID, "quantity": left})
		}
	}
	if len(items) == 0 {
		fmt.Fprintln(out, "  nothing left to ship")
		return nil
	}
	tracking := cfg.TrackingPrefix + fr.Number
	var ship struct {
		CreateShipment struct {
			TrackingNumber     string `json:"trackingNumber"`
			FulfillmentRequest struct {
				ShipmentStatus string `json:"shipmentStatus"`
			} `json:"fulfillmentRequest"`
		} `json:"createShipment"`
	}
	err = c.do(ctx, `mutation($input: CreateShipmentInput!) {
  createShipment(input: $input) { trackingNumber fulfillmentRequest { shipmentStatus } } }`,
		map[string]any{"input": map[string]any{
			"fulfillmentRequestID": fr.ID, "trackingNumber": tracking, "carrier": cfg.Carrier, "items": items,
		}}, fmt.Sprintf("partner-%s-ship-%s", source, fr.ID), &ship)
	if err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	sum.Shipped++
	fmt.Fprintf(out, "  shipped with %s %s: %s\n", cfg.Carrier, ship.CreateShipment.TrackingNumber,
		ship.CreateShipment.FulfillmentRequest.ShipmentStatus)
	return nil
}

// client is the smallest GraphQL client that does the job.
type client struct {
	base    string
	key     string
	http    *http.Client
	timeout time.Duration
}

// Error is an error the service answered, with its extensions.code
// (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, VALIDATION, INVALID_TRANSITION, …).
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// do posts one operation and decodes its data into out. idemKey, when not
// empty, is sent as the Idempotency-Key header.
func (c *client) do(ctx context.Context, query string, vars map[string]any, idemKey string, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/query", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return err
	}
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code  string `json:"code"`
				Field string `json:"field"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("HTTP %d, not a GraphQL answer: %.200s", resp.StatusCode, raw)
	}
	if len(res.Errors) > 0 {
		e := res.Errors[0]
		return &Error{Code: e.Extensions.Code, Message: e.Message, Field: e.Extensions.Field}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res.Data, out)
}
