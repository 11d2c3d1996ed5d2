package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The page the benchmark asks for, as GraphQL.
const (
	pageOrders = 50 // orders(first: 50)
	pageFRs    = 5  // fulfillmentRequests(first: 5)
	pageLogs   = 5  // logs(first: 5)
)

// pageQuery is the nested page the benchmark drives.
var pageQuery = fmt.Sprintf(`{ orders(first:%d){ edges { node { id orderNumber lines { sku quantity } `+
	`fulfillmentRequests(first:%d) { edges { node { number status source { code } items { sku quantity } `+
	`logs(first:%d) { edges { node { message } } } } } } } } } }`, pageOrders, pageFRs, pageLogs)

// The JSON shape of the page: the GraphQL answer decodes into it and the
// baseline encodes from it, so both answers have the same form.
type (
	pageJSON struct {
		Data   pageData          `json:"data"`
		Errors []json.RawMessage `json:"errors,omitempty"`
	}
	pageData struct {
		Orders struct {
			Edges []orderEdge `json:"edges"`
		} `json:"orders"`
	}
	orderEdge struct {
		Node orderNode `json:"node"`
	}
	orderNode struct {
		ID                  string   `json:"id"`
		OrderNumber         string   `json:"orderNumber"`
		Lines               []skuQty `json:"lines"`
		FulfillmentRequests struct {
			Edges []frEdge `json:"edges"`
		} `json:"fulfillmentRequests"`
	}
	skuQty struct {
		Sku      string `json:"sku"`
		Quantity int    `json:"quantity"`
	}
	frEdge struct {
		Node frNode `json:"node"`
	}
	frNode struct {
		Number string `json:"number"`
		Status string `json:"status"`
		Source struct {
			Code string `json:"code"`
		} `json:"source"`
		Items []skuQty `json:"items"`
		Logs  struct {
			Edges []logEdge `json:"edges"`
		} `json:"logs"`
	}
	logEdge struct {
		Node struct {
			Message string `json:"message"`
		} `json:"node"`
	}
)

// baselineStatements is how many SQL statements the baseline sends per page
// (when the page has fulfillment requests).
const baselineStatements = 5

// baseline is the hand-written handler the GraphQL service is measured
// against: the same page from the same tables through the same driver, in
// five statements (the orders page, then one batched IN query per level,
// each confined to the account like the service's tenant filter), encoded
// with encoding/json. It does no authentication, parsing or validation.
type baseline struct {
	db        *sql.DB
	postgres  bool
	accountID int
}

func (b *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := b.load(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}

// load reads the page.
func (b *baseline) load(ctx context.Context) (*pageJSON, error) {
	p := &pageJSON{}
	rows, err := b.db.QueryContext(ctx, b.rebind(`SELECT id, order_number FROM orders WHERE account_id = ? ORDER BY id LIMIT ?`),
		b.accountID, pageOrders)
	if err != nil {
		return nil, err
	}
	var orderIDs []any
	byOrder := make(map[int]*orderNode, pageOrders)
	edges := make([]orderEdge, 0, pageOrders)
	for rows.Next() {
		var id int
		var e orderEdge
		if err := rows.Scan(&id, &e.Node.OrderNumber); err != nil {
			rows.Close()
			return nil, err
		}
		e.Node.ID = strconv.Itoa(id)
		e.Node.Lines = []skuQty{}
		e.Node.FulfillmentRequests.Edges = []frEdge{}
		edges = append(edges, e)
		orderIDs = append(orderIDs, id)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	for i := range edges {
		id, _ := strconv.Atoi(edges[i].Node.ID)
		byOrder[id] = &edges[i].Node
	}
	p.Data.Orders.Edges = edges
	if len(orderIDs) == 0 {
		return p, nil
	}

	// Lines.
	rows, err = b.db.QueryContext(ctx, b.rebind(`SELECT order_id, sku, quantity FROM order_lines WHERE account_id = ? AND order_id IN (`+
		marks(len(orderIDs))+`) ORDER BY order_id, id`), append([]any{b.accountID}, orderIDs...)...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var oid int
		var l skuQty
		if err := rows.Scan(&oid, &l.Sku, &l.Quantity); err != nil {
			rows.Close()
			return nil, err
		}
		if o := byOrder[oid]; o != nil {
			o.Lines = append(o.Lines, l)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}

	// The first 5 requests of each order, by id, with their source's code.
	rows, err = b.db.QueryContext(ctx, b.rebind(`SELECT id, order_id, number, status, code FROM (
  SELECT fr.id, fr.order_id, fr.number, fr.status, s.code, ROW_NUMBER() OVER (PARTITION BY fr.order_id ORDER BY fr.id) AS rn
  FROM fulfillment_requests fr JOIN sources s ON s.id = fr.source_id
  WHERE fr.account_id = ? AND fr.order_id IN (`+marks(len(orderIDs))+`)) t
WHERE rn <= ? ORDER BY order_id, id`), append(append([]any{b.accountID}, orderIDs...), pageFRs)...)
	if err != nil {
		return nil, err
	}
	type frRef struct{ order, index int }
	var frIDs []any
	frAt := map[int]frRef{}
	for rows.Next() {
		var id, oid int
		var fr frEdge
		if err := rows.Scan(&id, &oid, &fr.Node.Number, &fr.Node.Status, &fr.Node.Source.Code); err != nil {
			rows.Close()
			return nil, err
		}
		o := byOrder[oid]
		if o == nil {
			continue
		}
		fr.Node.Items = []skuQty{}
		fr.Node.Logs.Edges = []logEdge{}
		frAt[id] = frRef{oid, len(o.FulfillmentRequests.Edges)}
		o.FulfillmentRequests.Edges = append(o.FulfillmentRequests.Edges, fr)
		frIDs = append(frIDs, id)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	if len(frIDs) == 0 {
		return p, nil
	}
	fr := func(id int) *frNode {
		ref, ok := frAt[id]
		if !ok {
			return nil
		}
		return &byOrder[ref.order].FulfillmentRequests.Edges[ref.index].Node
	}

	// Their items.
	rows, err = b.db.QueryContext(ctx, b.rebind(`SELECT fulfillment_request_id, sku, quantity FROM fulfillment_request_items
WHERE account_id = ? AND fulfillment_request_id IN (`+marks(len(frIDs))+`) ORDER BY fulfillment_request_id, id`),
		append([]any{b.accountID}, frIDs...)...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int
		var it skuQty
		if err := rows.Scan(&id, &it.Sku, &it.Quantity); err != nil {
			rows.Close()
			return nil, err
		}
		if n := fr(id); n != nil {
			n.Items = append(n.Items, it)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}

	// The first 5 logs of each request in the connection's default order,
	// newest first.
	rows, err = b.db.QueryContext(ctx, b.rebind(`SELECT fulfillment_request_id, message FROM (
  SELECT id, fulfillment_request_id, message, created_at,
         ROW_NUMBER() OVER (PARTITION BY fulfillment_request_id ORDER BY created_at DESC, id DESC) AS rn
  FROM fulfillment_logs WHERE account_id = ? AND fulfillment_request_id IN (`+marks(len(frIDs))+`)) t
WHERE rn <= ? ORDER BY fulfillment_request_id, created_at DESC, id DESC`), append(append([]any{b.accountID}, frIDs...), pageLogs)...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int
		var l logEdge
		if err := rows.Scan(&id, &l.Node.Message); err != nil {
			rows.Close()
			return nil, err
		}
		if n := fr(id); n != nil {
			n.Logs.Edges = append(n.Logs.Edges, l)
		}
	}
	return p, closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … (the statements
// above hold no ? in literals).
func (b *baseline) rebind(q string) string {
	if !b.postgres {
		return q
	}
	var sb strings.Builder
	sb.Grow(len(q) + 64)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteByte(q[i])
	}
	return sb.String()
}
