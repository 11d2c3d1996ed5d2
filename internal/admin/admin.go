// Package admin holds the set-up use cases: sources and their connectors,
// inventory, routing groups, API keys and the account's default strategy.
// Every input is validated in full before anything is written, and every
// write is one transaction.
package admin

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/ent/routinggroup"
	"github.com/frsvc/fulfillment/ent/routinggroupmember"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/filedrop"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/numbering"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// MaxInventoryBatch is the most items one upsertInventory call may carry.
const MaxInventoryBatch = 1000

// Service runs the set-up use cases.
type Service struct {
	Client *ent.Client
	// Postgres says the store is PostgreSQL, whose row locks stock changes
	// take in one order (db.LockInventory).
	Postgres bool
}

// --- sources ---------------------------------------------------------------

// CreateSource adds a source to the caller's account.
func (s *Service) CreateSource(ctx context.Context, in CreateSourceInput) (*ent.Source, error) {
	name, code := strings.TrimSpace(in.Name), strings.TrimSpace(in.Code)
	if name == "" {
		return nil, apperr.Invalid("input.name", "a source needs a name")
	}
	if err := checkCode(code); err != nil {
		return nil, err
	}
	if err := checkSourceCommon(in.DropshipFee, in.ShippingBaseCost, in.ShippingPerUnitCost, in.ShipsTo, in.Strategy, in.Connector, false); err != nil {
		return nil, err
	}
	var out *ent.Source
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		if err := codeFree(ctx, tx, code, 0); err != nil {
			return err
		}
		c := tx.Source.Create().SetName(name).SetCode(code).SetShipsTo(normCountries(in.ShipsTo))
		if in.Enabled != nil {
			c.SetEnabled(*in.Enabled)
		}
		if in.CommitStock != nil {
			c.SetCommitStock(*in.CommitStock)
		}
		applyCosts(c.Mutation(), in.DropshipFee, in.ShippingBaseCost, in.ShippingPerUnitCost)
		applyStrategy(c.Mutation(), in.Strategy)
		applyConnector(c.Mutation(), in.Connector)
		var err error
		out, err = c.Save(ctx)
		return translate(err, "input.code", "a source with this code already exists")
	})
	return db.Unwrap(out, err)
}

// UpdateSource changes the fields given.
func (s *Service) UpdateSource(ctx context.Context, id int, in UpdateSourceInput) (*ent.Source, error) {
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return nil, apperr.Invalid("input.name", "a source needs a name")
	}
	if in.Code != nil {
		if err := checkCode(strings.TrimSpace(*in.Code)); err != nil {
			return nil, err
		}
	}
	var out *ent.Source
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		cur, err := tx.Source.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Missing("source", id)
		}
		if err != nil {
			return err
		}
		// An update of an HTTP connector may omit the secret to keep it; any
		// other kind has no secret at all.
		keepSecret := in.Connector != nil && in.Connector.Kind == source.ConnectorKindHTTP &&
			in.Connector.Secret == nil && cur.ConnectorSecret != ""
		if err := checkSourceCommon(in.DropshipFee, in.ShippingBaseCost, in.ShippingPerUnitCost, in.ShipsTo, in.Strategy, in.Connector, keepSecret); err != nil {
			return err
		}
		u := tx.Source.UpdateOne(cur)
		if in.Name != nil {
			u.SetName(strings.TrimSpace(*in.Name))
		}
		if in.Code != nil {
			code := strings.TrimSpace(*in.Code)
			if err := codeFree(ctx, tx, code, id); err != nil {
				return err
			}
			u.SetCode(code)
		}
		if in.Enabled != nil {
			u.SetEnabled(*in.Enabled)
		}
		if in.CommitStock != nil {
			u.SetCommitStock(*in.CommitStock)
		}
		if in.ShipsTo != nil {
			u.SetShipsTo(normCountries(in.ShipsTo))
		}
		applyCosts(u.Mutation(), in.DropshipFee, in.ShippingBaseCost, in.ShippingPerUnitCost)
		if in.Strategy != nil {
			// Clear only what is not set: a column both cleared and set is
			// assigned twice in one UPDATE, which PostgreSQL refuses.
			m := u.Mutation()
			if in.Strategy.NumberTemplate == nil {
				m.ClearStrategyNumberTemplate()
			}
			if in.Strategy.MaxNumberLength == nil {
				m.ClearStrategyMaxNumberLength()
			}
			if in.Strategy.AutoProcess == nil {
				m.ClearStrategyAutoProcess()
			}
			applyStrategy(m, in.Strategy)
		}
		if in.Connector != nil {
			m := u.Mutation()
			m.SetConnectorURL("")
			m.SetConnectorDirectory("")
			if !keepSecret {
				m.SetConnectorSecret("")
			}
			applyConnector(m, in.Connector)
		}
		out, err = u.Save(ctx)
		return translate(err, "input.code", "a source with this code already exists")
	})
	return db.Unwrap(out, err)
}

func checkCode(code string) error {
	if code == "" {
		return apperr.Invalid("input.code", "a source needs a code")
	}
	if len(code) > 64 {
		return apperr.Invalid("input.code", "a source code must be at most 64 characters")
	}
	return nil
}

func codeFree(ctx context.Context, tx *ent.Tx, code string, self int) error {
	q := tx.Source.Query().Where(source.Code(code))
	if self != 0 {
		q.Where(source.IDNEQ(self))
	}
	taken, err := q.Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return apperr.Invalid("input.code", "a source with code %q already exists", code)
	}
	return nil
}

func checkSourceCommon(fee, base, perUnit *money.Amount, shipsTo []string, st *StrategyInput, conn *ConnectorInput, keepSecret bool) error {
	for _, m := range []struct {
		field string
		v     *money.Amount
	}{{"input.dropshipFee", fee}, {"input.shippingBaseCost", base}, {"input.shippingPerUnitCost", perUnit}} {
		if err := checkMoney(m.field, m.v); err != nil {
			return err
		}
	}
	if err := checkCountries("input.shipsTo", shipsTo); err != nil {
		return err
	}
	if err := checkStrategy("input.strategy", st); err != nil {
		return err
	}
	return checkConnector(conn, keepSecret)
}

func checkMoney(field string, v *money.Amount) error {
	if v == nil {
		return nil
	}
	return checkAmount(field, *v)
}

// checkAmount bounds a price, cost or fee where it enters: not negative and
// at most money.MaxUnitCost, so that every cost the service adds up stays
// exact.
func checkAmount(field string, v money.Amount) error {
	if v < 0 {
		return apperr.Invalid(field, "must not be negative")
	}
	if v > money.MaxUnitCost {
		return apperr.Invalid(field, "must be at most %s", money.MaxUnitCost)
	}
	return nil
}

// checkQuantity bounds a quantity on hand where it enters: not negative and
// at most money.MaxQuantity.
func checkQuantity(field string, q int) error {
	if q < 0 {
		return apperr.Invalid(field, "must not be negative")
	}
	if q > money.MaxQuantity {
		return apperr.Invalid(field, "must be at most %d", money.MaxQuantity)
	}
	return nil
}

func checkCountries(field string, codes []string) error {
	for i, c := range codes {
		if !address.ValidCountry(strings.ToUpper(strings.TrimSpace(c))) {
			return apperr.Invalid(fmt.Sprintf("%s[%d]", field, i), "%q is not an ISO 3166-1 alpha-2 country code", c)
		}
	}
	return nil
}

// normCountries upper-cases, trims, sorts and de-duplicates country codes.
func normCountries(codes []string) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		out = append(out, strings.ToUpper(strings.TrimSpace(c)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func checkStrategy(field string, st *StrategyInput) error {
	if st == nil {
		return nil
	}
	if st.NumberTemplate != nil {
		if err := numbering.Validate(*st.NumberTemplate); err != nil {
			return apperr.Invalid(field+".numberTemplate", "%s", err.Error())
		}
	}
	if st.MaxNumberLength != nil && (*st.MaxNumberLength < 0 || *st.MaxNumberLength > 255) {
		return apperr.Invalid(field+".maxNumberLength", "must be between 0 (no limit) and 255")
	}
	return nil
}

func checkConnector(c *ConnectorInput, keepSecret bool) error {
	if c == nil {
		return nil
	}
	const f = "input.connector"
	if c.TimeoutSeconds != nil && (*c.TimeoutSeconds < 1 || *c.TimeoutSeconds > 300) {
		return apperr.Invalid(f+".timeoutSeconds", "must be between 1 and 300")
	}
	if c.MaxAttempts != nil && (*c.MaxAttempts < 1 || *c.MaxAttempts > 50) {
		return apperr.Invalid(f+".maxAttempts", "must be between 1 and 50")
	}
	switch c.Kind {
	case source.ConnectorKindMANUAL:
	case source.ConnectorKindHTTP:
		if c.URL == nil {
			return apperr.Invalid(f+".url", "an HTTP connector needs a URL")
		}
		u, err := url.Parse(*c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return apperr.Invalid(f+".url", "must be an absolute http:// or https:// URL")
		}
		if (c.Secret == nil && !keepSecret) || (c.Secret != nil && len(*c.Secret) < 16) {
			return apperr.Invalid(f+".secret", "an HTTP connector needs a signing secret of at least 16 characters")
		}
	case source.ConnectorKindFILE:
		if c.Directory == nil {
			return apperr.Invalid(f+".directory", "a FILE connector needs a directory")
		}
		// Relative to the account's own folder under the drop root.
		if _, err := filedrop.CleanDir(*c.Directory); err != nil {
			return apperr.Invalid(f+".directory", "%s", err.Error())
		}
	default:
		return apperr.Invalid(f+".kind", "unknown connector kind %q", c.Kind)
	}
	return nil
}

func applyCosts(m *ent.SourceMutation, fee, base, perUnit *money.Amount) {
	if fee != nil {
		m.SetDropshipFee(*fee)
	}
	if base != nil {
		m.SetShippingBaseCost(*base)
	}
	if perUnit != nil {
		m.SetShippingPerUnitCost(*perUnit)
	}
}

func applyStrategy(m *ent.SourceMutation, st *StrategyInput) {
	if st == nil {
		return
	}
	if st.NumberTemplate != nil {
		m.SetStrategyNumberTemplate(*st.NumberTemplate)
	}
	if st.MaxNumberLength != nil {
		m.SetStrategyMaxNumberLength(*st.MaxNumberLength)
	}
	if st.AutoProcess != nil {
		m.SetStrategyAutoProcess(*st.AutoProcess)
	}
}

func applyConnector(m *ent.SourceMutation, c *ConnectorInput) {
	if c == nil {
		return
	}
	m.SetConnectorKind(c.Kind)
	if c.URL != nil {
		m.SetConnectorURL(*c.URL)
	}
	if c.Secret != nil && c.Kind == source.ConnectorKindHTTP {
		m.SetConnectorSecret(*c.Secret)
	}
	if c.TimeoutSeconds != nil {
		m.SetConnectorTimeoutSeconds(*c.TimeoutSeconds)
	}
	if c.Directory != nil {
		dir, _ := filedrop.CleanDir(*c.Directory) // checked by checkConnector
		m.SetConnectorDirectory(dir)
	}
	if c.Format != nil {
		m.SetConnectorFormat(*c.Format)
	}
	if c.MaxAttempts != nil {
		m.SetConnectorMaxAttempts(*c.MaxAttempts)
	}
}

// --- inventory -------------------------------------------------------------

// UpsertInventory creates or updates the given SKUs of one source, all or
// nothing, and returns them in input order.
func (s *Service) UpsertInventory(ctx context.Context, sourceID int, items []*InventoryInput) ([]*ent.InventoryItem, error) {
	if len(items) == 0 {
		return nil, apperr.Invalid("items", "give at least one item")
	}
	if len(items) > MaxInventoryBatch {
		return nil, apperr.Invalid("items", "at most %d items a call, got %d", MaxInventoryBatch, len(items))
	}
	seen := make(map[string]bool, len(items))
	skus := make([]string, len(items))
	for i, it := range items {
		f := fmt.Sprintf("items[%d]", i)
		sku := strings.TrimSpace(it.Sku)
		if sku == "" {
			return nil, apperr.Invalid(f+".sku", "a SKU must not be empty")
		}
		if seen[sku] {
			return nil, apperr.Invalid(f+".sku", "SKU %q appears twice in the batch", sku)
		}
		seen[sku] = true
		skus[i] = sku
		if err := checkQuantity(f+".quantity", it.Quantity); err != nil {
			return nil, err
		}
		if err := checkAmount(f+".unitCost", it.UnitCost); err != nil {
			return nil, err
		}
	}
	var out []*ent.InventoryItem
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		if ok, err := tx.Source.Query().Where(source.ID(sourceID)).Exist(ctx); err != nil {
			return err
		} else if !ok {
			return apperr.Missing("source", sourceID)
		}
		// The rows that exist are locked first, in the global order, so that
		// this upsert cannot deadlock against a generation reserving them.
		if err := db.LockInventory(ctx, tx, s.Postgres, inventoryitem.SourceID(sourceID), inventoryitem.SkuIn(skus...)); err != nil {
			return err
		}
		// The quantities before: a row may be left below what is
		// committed only if this does not lower it (see belowCommitted).
		before, err := tx.InventoryItem.Query().
			Where(inventoryitem.SourceID(sourceID), inventoryitem.SkuIn(skus...)).All(ctx)
		if err != nil {
			return err
		}
		was := make(map[string]int, len(before))
		for _, r := range before {
			was[r.Sku] = r.Quantity
		}
		builders := make([]*ent.InventoryItemCreate, len(items))
		for i, it := range items {
			builders[i] = tx.InventoryItem.Create().SetSourceID(sourceID).SetSku(skus[i]).
				SetQuantity(it.Quantity).SetUnitCost(it.UnitCost)
		}
		err = tx.InventoryItem.CreateBulk(builders...).
			OnConflictColumns(inventoryitem.FieldSourceID, inventoryitem.FieldSku).
			Update(func(u *ent.InventoryItemUpsert) {
				u.UpdateQuantity()
				u.UpdateUnitCost()
				u.UpdateUpdatedAt()
			}).Exec(ctx)
		if err != nil {
			return err
		}
		rows, err := tx.InventoryItem.Query().
			Where(inventoryitem.SourceID(sourceID), inventoryitem.SkuIn(skus...)).All(ctx)
		if err != nil {
			return err
		}
		bySku := make(map[string]*ent.InventoryItem, len(rows))
		for _, r := range rows {
			bySku[r.Sku] = r
		}
		out = make([]*ent.InventoryItem, len(skus))
		for i, sku := range skus {
			out[i] = bySku[sku]
			// Read after the upsert, which holds the row's lock: committed
			// is current and no reservation can change it before commit.
			if old, ok := was[sku]; ok && out[i].Quantity < out[i].Committed && out[i].Quantity < old {
				return belowCommitted(ctx, tx, fmt.Sprintf("items[%d].quantity", i), out[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = out[i].Unwrap()
	}
	return out, nil
}

// belowCommitted refuses a quantity lowered below what open requests have
// committed, naming the requests that hold the stock: their numbers in the
// message, their ids and numbers in the extensions. (A row overcommitted on
// purpose, with allowOvercommit, may still be raised or keep its quantity.)
func belowCommitted(ctx context.Context, tx *ent.Tx, field string, row *ent.InventoryItem) error {
	frs, err := tx.FulfillmentRequest.Query().Where(
		fulfillmentrequest.SourceID(row.SourceID), fulfillmentrequest.CommitsStock(true),
		fulfillmentrequest.StatusNotIn(frstatus.Canceled, frstatus.Voided),
		fulfillmentrequest.HasItemsWith(fulfillmentrequestitem.Sku(row.Sku)),
	).WithItems(func(q *ent.FulfillmentRequestItemQuery) { q.Where(fulfillmentrequestitem.Sku(row.Sku)) }).
		Order(ent.Asc(fulfillmentrequest.FieldID)).All(ctx)
	if err != nil {
		return err
	}
	const listed = 20
	var numbers []string
	var holders []map[string]any
	for _, fr := range frs {
		left := 0
		for _, it := range fr.Edges.Items {
			left += it.Quantity - it.ShippedQuantity - it.CanceledQuantity
		}
		if left <= 0 {
			continue
		}
		if len(holders) < listed {
			numbers = append(numbers, fr.Number)
			holders = append(holders, map[string]any{"id": strconv.Itoa(fr.ID), "number": fr.Number, "quantity": left})
		}
	}
	names := strings.Join(numbers, ", ")
	if len(numbers) == 0 {
		names = "none open now"
	}
	return &apperr.Error{Code: apperr.Conflict, Field: field,
		Message: fmt.Sprintf("%d of SKU %s are committed to open fulfillment requests (%s): a quantity of %d would leave %d available. "+
			"Set at least %d, or ship, cancel or void those requests first.", row.Committed, row.Sku, names, row.Quantity, row.Quantity-row.Committed, row.Committed),
		Extra: map[string]any{"sku": row.Sku, "committed": row.Committed, "fulfillmentRequests": holders}}
}

// --- routing groups --------------------------------------------------------

// CreateRoutingGroup adds a group. The account's first group is its default.
func (s *Service) CreateRoutingGroup(ctx context.Context, in CreateRoutingGroupInput) (*ent.RoutingGroup, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, apperr.Invalid("input.name", "a routing group needs a name")
	}
	if err := checkGroupCommon(in.ShipToCountries, in.Rules, in.Members); err != nil {
		return nil, err
	}
	var id int
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		if err := membersInAccount(ctx, tx, in.Members); err != nil {
			return err
		}
		count, err := tx.RoutingGroup.Query().Count(ctx)
		if err != nil {
			return err
		}
		isDefault := count == 0 || (in.IsDefault != nil && *in.IsDefault)
		if isDefault {
			if err := clearDefault(ctx, tx); err != nil {
				return err
			}
		}
		c := tx.RoutingGroup.Create().SetName(strings.TrimSpace(in.Name)).SetIsDefault(isDefault).
			SetShipToCountries(normCountries(in.ShipToCountries)).SetRules(ruleStrings(in.Rules))
		if in.Position != nil {
			c.SetPosition(*in.Position)
		} else {
			c.SetPosition(count)
		}
		if in.AllowLineSplit != nil {
			c.SetAllowLineSplit(*in.AllowLineSplit)
		}
		g, err := c.Save(ctx)
		if err != nil {
			return translate(err, "input.isDefault", "another group became the default at the same time; try again")
		}
		id = g.ID
		return createMembers(ctx, tx, g.ID, in.Members)
	})
	if err != nil {
		return nil, err
	}
	return s.Client.RoutingGroup.Get(ctx, id)
}

// UpdateRoutingGroup changes the fields given; Members replace the old ones.
func (s *Service) UpdateRoutingGroup(ctx context.Context, id int, in UpdateRoutingGroupInput) (*ent.RoutingGroup, error) {
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return nil, apperr.Invalid("input.name", "a routing group needs a name")
	}
	if err := checkGroupCommon(in.ShipToCountries, in.Rules, in.Members); err != nil {
		return nil, err
	}
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		g, err := tx.RoutingGroup.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Missing("routing group", id)
		}
		if err != nil {
			return err
		}
		if in.IsDefault != nil && !*in.IsDefault && g.IsDefault {
			return apperr.Invalid("input.isDefault", "an account always has one default group: make another group the default instead")
		}
		if err := membersInAccount(ctx, tx, in.Members); err != nil {
			return err
		}
		if in.IsDefault != nil && *in.IsDefault && !g.IsDefault {
			if err := clearDefault(ctx, tx); err != nil {
				return err
			}
		}
		u := tx.RoutingGroup.UpdateOne(g)
		if in.Name != nil {
			u.SetName(strings.TrimSpace(*in.Name))
		}
		if in.Position != nil {
			u.SetPosition(*in.Position)
		}
		if in.IsDefault != nil {
			u.SetIsDefault(*in.IsDefault)
		}
		if in.ShipToCountries != nil {
			u.SetShipToCountries(normCountries(in.ShipToCountries))
		}
		if in.Rules != nil {
			u.SetRules(ruleStrings(in.Rules))
		}
		if in.AllowLineSplit != nil {
			u.SetAllowLineSplit(*in.AllowLineSplit)
		}
		if _, err := u.Save(ctx); err != nil {
			return translate(err, "input.isDefault", "another group became the default at the same time; try again")
		}
		if in.Members == nil {
			return nil
		}
		if _, err := tx.RoutingGroupMember.Delete().Where(routinggroupmember.GroupID(id)).Exec(ctx); err != nil {
			return err
		}
		return createMembers(ctx, tx, id, in.Members)
	})
	if err != nil {
		return nil, err
	}
	return s.Client.RoutingGroup.Get(ctx, id)
}

func checkGroupCommon(countries []string, rules []RoutingRule, members []*RoutingGroupMemberInput) error {
	if err := checkCountries("input.shipToCountries", countries); err != nil {
		return err
	}
	for i, r := range rules {
		if !r.Valid() {
			return apperr.Invalid(fmt.Sprintf("input.rules[%d]", i), "unknown rule %q", r)
		}
	}
	seen := map[int]bool{}
	for i, m := range members {
		f := fmt.Sprintf("input.members[%d]", i)
		if m.Priority < 1 || m.Priority > 999 {
			return apperr.Invalid(f+".priority", "must be between 1 and 999")
		}
		if seen[m.SourceID] {
			return apperr.Invalid(f+".sourceID", "source %d is listed twice", m.SourceID)
		}
		seen[m.SourceID] = true
	}
	return nil
}

// membersInAccount refuses members whose source the caller cannot see: the
// tenant filter makes another account's source simply absent.
func membersInAccount(ctx context.Context, tx *ent.Tx, members []*RoutingGroupMemberInput) error {
	if len(members) == 0 {
		return nil
	}
	ids := make([]int, len(members))
	for i, m := range members {
		ids[i] = m.SourceID
	}
	found, err := tx.Source.Query().Where(source.IDIn(ids...)).IDs(ctx)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if !slices.Contains(found, id) {
			return apperr.Invalid(fmt.Sprintf("input.members[%d].sourceID", i), "source %d not found", id)
		}
	}
	return nil
}

func createMembers(ctx context.Context, tx *ent.Tx, groupID int, members []*RoutingGroupMemberInput) error {
	if len(members) == 0 {
		return nil
	}
	builders := make([]*ent.RoutingGroupMemberCreate, len(members))
	for i, m := range members {
		builders[i] = tx.RoutingGroupMember.Create().SetGroupID(groupID).SetSourceID(m.SourceID).
			SetPriority(m.Priority).SetEligible(m.Eligible == nil || *m.Eligible)
	}
	return tx.RoutingGroupMember.CreateBulk(builders...).Exec(ctx)
}

func clearDefault(ctx context.Context, tx *ent.Tx) error {
	return tx.RoutingGroup.Update().Where(routinggroup.IsDefault(true)).SetIsDefault(false).Exec(ctx)
}

func ruleStrings(rules []RoutingRule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = string(r)
	}
	return out
}

// --- API keys --------------------------------------------------------------

// CreatedAPIKey is a new key with its secret, shown once.
type CreatedAPIKey struct {
	APIKey *ent.ApiKey
	Secret string
}

// CreateAPIKey makes a key for the caller's account.
func (s *Service) CreateAPIKey(ctx context.Context, in CreateAPIKeyInput) (*CreatedAPIKey, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, apperr.Invalid("input.name", "a key needs a name")
	}
	if err := apikey.RoleValidator(in.Role); err != nil {
		return nil, apperr.Invalid("input.role", "unknown role %q", in.Role)
	}
	if in.Role == auth.RoleSource && in.SourceID == nil {
		return nil, apperr.Invalid("input.sourceID", "a SOURCE key needs a source")
	}
	if in.Role != auth.RoleSource && in.SourceID != nil {
		return nil, apperr.Invalid("input.sourceID", "only SOURCE keys belong to a source")
	}
	secret, err := auth.NewSecret()
	if err != nil {
		return nil, err
	}
	var key *ent.ApiKey
	err = db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		c := tx.ApiKey.Create().SetName(name).SetRole(in.Role).
			SetPrefix(auth.DisplayPrefix(secret)).SetHash(auth.Hash(secret))
		if in.SourceID != nil {
			if ok, err := tx.Source.Query().Where(source.ID(*in.SourceID)).Exist(ctx); err != nil {
				return err
			} else if !ok {
				return apperr.Invalid("input.sourceID", "source %d not found", *in.SourceID)
			}
			c.SetSourceID(*in.SourceID)
		}
		key, err = c.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &CreatedAPIKey{APIKey: key.Unwrap(), Secret: secret}, nil
}

// RevokeAPIKey revokes a key; it takes effect on the key's next request.
// Revoking a revoked key changes nothing. The account's last active ADMIN
// key cannot be revoked: nothing could make another one through the API.
func (s *Service) RevokeAPIKey(ctx context.Context, id int) (*ent.ApiKey, error) {
	var out *ent.ApiKey
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		k, err := tx.ApiKey.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Missing("API key", id)
		}
		if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			out = k
			return nil
		}
		if k.Role == auth.RoleAdmin {
			// Two revokes of the last two ADMIN keys must not both pass the
			// count: on PostgreSQL the account's row serialises them (the
			// second counts after the first commits); SQLite's write
			// transactions are serial already (_txlock=immediate).
			if err := db.LockAccount(ctx, tx, s.Postgres, k.AccountID); err != nil {
				return err
			}
			n, err := tx.ApiKey.Query().Where(apikey.RoleEQ(auth.RoleAdmin), apikey.RevokedAtIsNil(), apikey.IDNEQ(k.ID)).Count(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return apperr.Clash("API key %d is the account's last active ADMIN key; create another ADMIN key before revoking it", k.ID)
			}
		}
		out, err = tx.ApiKey.UpdateOneID(k.ID).Where(apikey.RevokedAtIsNil()).SetRevokedAt(time.Now()).Save(ctx)
		if ent.IsNotFound(err) {
			// Revoked meanwhile by another request.
			out, err = tx.ApiKey.Get(ctx, k.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// --- account ---------------------------------------------------------------

// UpdateAccountStrategy sets the account's default strategy fields given.
func (s *Service) UpdateAccountStrategy(ctx context.Context, in StrategyInput) (*ent.Account, error) {
	if err := checkStrategy("input", &in); err != nil {
		return nil, err
	}
	id, ok := tenant.AccountID(ctx)
	if !ok {
		return nil, tenant.ErrMissing
	}
	u := s.Client.Account.UpdateOneID(id)
	if in.NumberTemplate != nil {
		u.SetNumberTemplate(*in.NumberTemplate)
	}
	if in.MaxNumberLength != nil {
		u.SetMaxNumberLength(*in.MaxNumberLength)
	}
	if in.AutoProcess != nil {
		u.SetAutoProcess(*in.AutoProcess)
	}
	return u.Save(ctx)
}

// translate turns a unique-constraint violation into a VALIDATION error on
// field; a concurrent writer can still win the race that a pre-check lost.
func translate(err error, field, msg string) error {
	if err != nil && ent.IsConstraintError(err) {
		return &apperr.Error{Code: apperr.Validation, Field: field, Message: msg, Err: err}
	}
	return err
}

// AccountSettingsInput is updateAccountSettings' input.
type AccountSettingsInput struct {
	GenerateOnImport *bool
}

// UpdateAccountSettings sets the account's automation settings given.
func (s *Service) UpdateAccountSettings(ctx context.Context, in AccountSettingsInput) (*ent.Account, error) {
	id, ok := tenant.AccountID(ctx)
	if !ok {
		return nil, tenant.ErrMissing
	}
	u := s.Client.Account.UpdateOneID(id)
	if in.GenerateOnImport != nil {
		u.SetGenerateOnImport(*in.GenerateOnImport)
	}
	return u.Save(ctx)
}
