// Package auth turns a bearer key into a principal: the caller's account,
// role and (for SOURCE keys) source. Secrets are random, shown once, and
// stored only as SHA-256 hashes; a key is found by its hash, so a lookup
// never compares secrets byte by byte.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/wording"
)

// SecretPrefix starts every generated secret, so that a leaked key is easy
// to recognise in logs and by secret scanners.
const SecretPrefix = "frk_"

// displayPrefixLen is how much of a secret is kept in clear to name the key.
const displayPrefixLen = len(SecretPrefix) + 6

// Role is an API key's role.
type Role = apikey.Role

// The roles.
const (
	RoleAdmin    = apikey.RoleADMIN
	RoleSource   = apikey.RoleSOURCE
	RoleReadOnly = apikey.RoleREAD_ONLY
)

// Principal is the authenticated caller.
type Principal struct {
	AccountID int
	KeyID     int
	KeyName   string
	Role      Role
	// SourceID is set for SOURCE keys.
	SourceID *int
}

// Actor names the caller in fulfillment logs: the key's id and name, never its secret.
func (p Principal) Actor() string { return fmt.Sprintf("apikey:%d:%s", p.KeyID, p.KeyName) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p and confined to p's account.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	ctx = tenant.WithAccount(context.WithValue(ctx, principalKey{}, p), p.AccountID)
	if p.Role == RoleSource {
		// A SOURCE key always reads through its source's scope; one without
		// a source (never created, but never trusted either) sees nothing.
		source := 0
		if p.SourceID != nil {
			source = *p.SourceID
		}
		ctx = tenant.WithSource(ctx, source)
	}
	return ctx
}

// FromContext returns the principal of the request.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Actor returns the log actor of ctx: the key, or "system" for background work.
func Actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return p.Actor()
	}
	return "system"
}

// NewSecret returns a new random secret: the prefix and 256 random bits.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// Hash returns the stored form of a secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// DisplayPrefix is the part of a secret kept in clear.
func DisplayPrefix(secret string) string {
	if len(secret) <= displayPrefixLen {
		return secret[:len(secret)/2]
	}
	return secret[:displayPrefixLen]
}

// Authenticator resolves bearer secrets.
type Authenticator struct {
	Client *ent.Client
	// Lookup is the client the key lookup, a read sent on every request,
	// runs on (Client when nil): one of the store's statement modes. On
	// PostgreSQL db.Store.Prepared, a statement prepared once. On SQLite
	// db.Store.Detached: there the lookup is a point read of a unique index
	// in this process that cannot wait on a network, and a cancelable
	// context makes the driver start a goroutine to watch it for every
	// statement, a cost of the same order as the rest of the HTTP guards
	// (README, Benchmarks: Guards); detached, the statement runs without
	// the request's cancellation and deadline, and only the wait for a
	// pooled connection ends with the request. Not for PostgreSQL, where
	// the request's deadline must bound a statement that waits on the
	// network.
	Lookup *ent.Client
}

// LastUsedResolution is how stale a key's lastUsedAt may be: authentication
// refreshes it at most this often.
const LastUsedResolution = time.Minute

// ErrUnauthenticated answers a missing, unknown or revoked key. One error for
// all three, so that a caller learns nothing about which keys exist.
var ErrUnauthenticated = &apperr.Error{Code: apperr.Unauthenticated, Message: "a valid API key is required: Authorization: Bearer <key>"}

// Authenticate finds the live key with this secret.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	hash := Hash(secret)
	lookup := a.Lookup
	if lookup == nil {
		lookup = a.Client
	}
	// Only the columns a principal needs: the lookup runs on every request.
	k, err := lookup.ApiKey.Query().Where(apikey.Hash(hash)).
		Select(apikey.FieldAccountID, apikey.FieldName, apikey.FieldRole, apikey.FieldSourceID, apikey.FieldHash, apikey.FieldRevokedAt,
			apikey.FieldUpdatedAt, apikey.FieldLastUsedAt).
		Only(tenant.WithSystem(ctx))
	if ent.IsNotFound(err) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up api key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 || k.RevokedAt != nil {
		return Principal{}, ErrUnauthenticated
	}
	if now := time.Now(); k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= LastUsedResolution {
		// A write at most once a resolution per key, conditional so that
		// concurrent requests of one key mostly skip it; updatedAt keeps
		// telling of changes to the key, not of its use. A failure costs
		// the request nothing but a stale lastUsedAt. A write may wait for
		// SQLite's writer: under the request's own deadline, not detached.
		_ = a.Client.ApiKey.Update().
			Where(apikey.ID(k.ID), apikey.Or(apikey.LastUsedAtIsNil(), apikey.LastUsedAtLT(now.Add(-LastUsedResolution)))).
			SetLastUsedAt(now).SetUpdatedAt(k.UpdatedAt).Exec(tenant.WithSystem(ctx))
	}
	return Principal{AccountID: k.AccountID, KeyID: k.ID, KeyName: k.Name, Role: k.Role, SourceID: k.SourceID}, nil
}

// BearerToken extracts the secret of an "Authorization: Bearer <key>" header.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// CreateAccount makes an account with a first ADMIN key. secret may be empty
// for a random one; the secret is returned so the caller can show it once.
func CreateAccount(ctx context.Context, client *ent.Client, name, secret string) (*ent.Account, string, error) {
	if strings.TrimSpace(name) == "" {
		return nil, "", apperr.Invalid("name", "an account needs a name")
	}
	if secret == "" {
		var err error
		if secret, err = NewSecret(); err != nil {
			return nil, "", err
		}
	}
	ctx = tenant.WithSystem(ctx)
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	err = lockAccountNames(ctx, tx)
	var taken bool
	if err == nil {
		taken, err = tx.Account.Query().Where(account.NameEqualFold(name)).Exist(ctx)
	}
	if err == nil && taken {
		_ = tx.Rollback()
		return nil, "", apperr.Clash("an account named %q exists already; account names are unique", name)
	}
	var acc *ent.Account
	if err == nil {
		acc, err = tx.Account.Create().SetName(name).Save(ctx)
	}
	if err == nil {
		_, err = tx.ApiKey.Create().SetAccountID(acc.ID).SetName("first admin key").SetRole(RoleAdmin).
			SetPrefix(DisplayPrefix(secret)).SetHash(Hash(secret)).Save(ctx)
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, "", fmt.Errorf("create account: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, "", err
	}
	return acc, secret, nil
}

// lockAccountNames makes concurrent account creations check the names one
// after the other: on PostgreSQL with a transaction-scoped advisory lock
// (there is no row to lock before the account exists); SQLite's write
// transactions are serial already.
func lockAccountNames(ctx context.Context, tx *ent.Tx) error {
	postgres := false
	// The selector knows the dialect; the query matches nothing.
	if _, err := tx.Account.Query().Where(account.ID(0)).
		Modify(func(s *entsql.Selector) { postgres = s.Dialect() == dialect.Postgres }).IDs(ctx); err != nil {
		return err
	}
	if !postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('fulfillment: account names'))")
	return err
}

// Bootstrap creates the default account and an ADMIN key on a database with
// no account. It returns the secret when it made one, "" otherwise.
func Bootstrap(ctx context.Context, client *ent.Client, secret string) (string, error) {
	n, err := client.Account.Query().Count(tenant.WithSystem(ctx))
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	_, s, err := CreateAccount(ctx, client, "Default", secret)
	if apperr.CodeOf(err) == apperr.Conflict {
		return "", nil // another process made it meanwhile
	}
	if err != nil {
		return "", err
	}
	return s, nil
}

// The decisions below are those the schema declares for a field (its
// @allow, @operatorOnly and @operatorRelationFilters directives, see
// schema/authz.graphql and graph/authz.go): which field is open to whom is
// written there, once; here are the predicates on roles and the wording of
// each refusal. A role not allowed is refused, an unknown one included.

// Allowed reports whether p's role is one of roles.
func Allowed(p Principal, roles []Role) bool { return slices.Contains(roles, p.Role) }

// key names p's kind of key in a refusal: "a SOURCE key", "an ADMIN key".
func key(p Principal) string { return wording.A(string(p.Role) + " key") }

// AuthorizeMutation decides whether p may call the mutation field, open to roles.
func AuthorizeMutation(p Principal, field string, roles ...Role) error {
	if Allowed(p, roles) {
		return nil
	}
	return apperr.Deny("%s may not call %s", key(p), field)
}

// AuthorizeQuery decides whether p may use the root query field, open to
// roles. What the open queries return is narrowed to p's scope in the data
// layer (a SOURCE key's to its source).
func AuthorizeQuery(p Principal, field string, roles ...Role) error {
	if Allowed(p, roles) {
		return nil
	}
	if field == "apiKeys" {
		// Worded for what the query is: only ADMIN keys list keys.
		return apperr.Deny("only an ADMIN key may list the account's keys")
	}
	return apperr.Deny("%s may not query %s", key(p), field)
}

// MayReadAPIKey reports whether p may read the API key: an ADMIN key any
// of the account's, any other key only itself.
func MayReadAPIKey(p Principal, keyID int) bool { return p.Role == RoleAdmin || p.KeyID == keyID }

// IsOperator reports whether p is one of the account's own keys, ADMIN or
// READ_ONLY, rather than a partner's (SOURCE).
func IsOperator(p Principal) bool { return p.Role == RoleAdmin || p.Role == RoleReadOnly }

// AuthorizeOperatorField decides whether p may read the field of the
// object, which only operator keys may read (a SOURCE key is not shown an
// order's price, status or ledger, nor a request's warnings, the operator's
// log of how it was made).
func AuthorizeOperatorField(p Principal, object, field string) error {
	if IsOperator(p) {
		return nil
	}
	return apperr.Deny("%s may not read %s.%s", key(p), object, field)
}

// AuthorizeFilter decides whether p may filter with where, the raw value of
// a where argument: operator keys may filter through relations (has…,
// has…With), any other key by the type's own fields only. Relation filters
// run as sub-queries outside a SOURCE key's scope, so they would answer
// questions about what it may not read (another source's requests on a
// shared order, an order's status, the logs).
func AuthorizeFilter(p Principal, where any) error {
	if IsOperator(p) {
		return nil
	}
	return ownFieldsOnly(p, where)
}

func ownFieldsOnly(p Principal, where any) error {
	switch v := where.(type) {
	case map[string]any:
		for k, sub := range v {
			if strings.HasPrefix(k, "has") {
				return apperr.Deny("%s may not filter by %s", key(p), k)
			}
			if err := ownFieldsOnly(p, sub); err != nil {
				return err
			}
		}
	case []any:
		for _, sub := range v {
			if err := ownFieldsOnly(p, sub); err != nil {
				return err
			}
		}
	}
	return nil
}
