package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
)

// pageSummary counts what one page holds.
type pageSummary struct{ Orders, Lines, FRs, Items, Logs int }

func (s pageSummary) String() string {
	return fmt.Sprintf("%d orders, %d lines, %d fulfillment requests, %d items, %d logs", s.Orders, s.Lines, s.FRs, s.Items, s.Logs)
}

// checkSame fetches the page once from each server and fails unless both
// hold the same orders (in order), the same lines, and the same fulfillment
// requests (in order) with the same status, source, items and logs. Lines
// and items are lists without an order in the schema, so they are compared
// as multisets.
func checkSame(ctx context.Context, c *http.Client, ours, base target) (pageSummary, int, error) {
	var pages [2]pageJSON
	size := 0
	for i, t := range []target{ours, base} {
		body, err := t.do(ctx, c)
		if err != nil {
			return pageSummary{}, 0, fmt.Errorf("%s: %w", t.name, err)
		}
		size = max(size, len(body))
		if err := json.Unmarshal(body, &pages[i]); err != nil {
			return pageSummary{}, 0, fmt.Errorf("%s: decode the answer: %w", t.name, err)
		}
		normalize(&pages[i])
	}
	a, b := pages[0].Data.Orders.Edges, pages[1].Data.Orders.Edges
	if len(a) != len(b) {
		return pageSummary{}, 0, fmt.Errorf("%s has %d orders, %s %d", ours.name, len(a), base.name, len(b))
	}
	var sum pageSummary
	for i := range a {
		oa, ob := a[i].Node, b[i].Node
		if oa.ID != ob.ID || oa.OrderNumber != ob.OrderNumber {
			return sum, 0, fmt.Errorf("order %d: %s has %s (id %s), %s has %s (id %s)", i, ours.name, oa.OrderNumber, oa.ID, base.name, ob.OrderNumber, ob.ID)
		}
		if !reflect.DeepEqual(oa.Lines, ob.Lines) {
			return sum, 0, fmt.Errorf("order %s: lines differ: %s %v, %s %v", oa.OrderNumber, ours.name, oa.Lines, base.name, ob.Lines)
		}
		fa, fb := oa.FulfillmentRequests.Edges, ob.FulfillmentRequests.Edges
		if len(fa) != len(fb) {
			return sum, 0, fmt.Errorf("order %s: %s has %d fulfillment requests, %s %d", oa.OrderNumber, ours.name, len(fa), base.name, len(fb))
		}
		for j := range fa {
			if !reflect.DeepEqual(fa[j].Node, fb[j].Node) {
				return sum, 0, fmt.Errorf("order %s, request %d: %s %+v, %s %+v", oa.OrderNumber, j, ours.name, fa[j].Node, base.name, fb[j].Node)
			}
			sum.Items += len(fa[j].Node.Items)
			sum.Logs += len(fa[j].Node.Logs.Edges)
		}
		sum.Orders++
		sum.Lines += len(oa.Lines)
		sum.FRs += len(fa)
	}
	if sum.Orders == 0 || sum.Lines == 0 || sum.FRs == 0 || sum.Items == 0 || sum.Logs == 0 {
		return sum, 0, fmt.Errorf("the page is missing a level: %s", sum)
	}
	return sum, size, nil
}

// normalize sorts the unordered lists and makes empty lists nil.
func normalize(p *pageJSON) {
	bySkuQty := func(a, b skuQty) int { return cmp.Or(cmp.Compare(a.Sku, b.Sku), cmp.Compare(a.Quantity, b.Quantity)) }
	for i := range p.Data.Orders.Edges {
		o := &p.Data.Orders.Edges[i].Node
		slices.SortFunc(o.Lines, bySkuQty)
		if len(o.Lines) == 0 {
			o.Lines = nil
		}
		for j := range o.FulfillmentRequests.Edges {
			fr := &o.FulfillmentRequests.Edges[j].Node
			slices.SortFunc(fr.Items, bySkuQty)
			if len(fr.Items) == 0 {
				fr.Items = nil
			}
			if len(fr.Logs.Edges) == 0 {
				fr.Logs.Edges = nil
			}
		}
	}
}
