package admin

import (
	"context"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/auth"
)

// Strategy is a complete number strategy.
type Strategy struct {
	NumberTemplate  string
	MaxNumberLength int
	AutoProcess     bool
}

// AccountStrategy is the account's default strategy.
func AccountStrategy(a *ent.Account) Strategy {
	return Strategy{NumberTemplate: a.NumberTemplate, MaxNumberLength: a.MaxNumberLength, AutoProcess: a.AutoProcess}
}

// SourceStrategy is a source's override; nil fields inherit the account's.
func SourceStrategy(s *ent.Source) *StrategyInput {
	return &StrategyInput{NumberTemplate: s.StrategyNumberTemplate, MaxNumberLength: s.StrategyMaxNumberLength, AutoProcess: s.StrategyAutoProcess}
}

// Effective merges a source's override over the account's strategy.
func Effective(a Strategy, s *ent.Source) Strategy {
	if s.StrategyNumberTemplate != nil {
		a.NumberTemplate = *s.StrategyNumberTemplate
	}
	if s.StrategyMaxNumberLength != nil {
		a.MaxNumberLength = *s.StrategyMaxNumberLength
	}
	if s.StrategyAutoProcess != nil {
		a.AutoProcess = *s.StrategyAutoProcess
	}
	return a
}

// Connector is the readable part of a source's connector: never its secret.
type Connector struct {
	Kind           source.ConnectorKind
	URL            *string
	HasSecret      bool
	TimeoutSeconds int
	Directory      *string
	Format         source.ConnectorFormat
	MaxAttempts    int
}

// ConnectorOf describes s's connector.
func ConnectorOf(s *ent.Source) *Connector {
	c := &Connector{
		Kind:           s.ConnectorKind,
		HasSecret:      s.ConnectorSecret != "",
		TimeoutSeconds: s.ConnectorTimeoutSeconds,
		Format:         s.ConnectorFormat,
		MaxAttempts:    s.ConnectorMaxAttempts,
	}
	// A field of another kind of connector is null, whatever is stored
	// from an earlier kind.
	switch s.ConnectorKind {
	case source.ConnectorKindHTTP:
		c.URL = nonEmpty(s.ConnectorURL)
	case source.ConnectorKindFILE:
		c.Directory = nonEmpty(s.ConnectorDirectory)
	}
	return c
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Viewer is the caller as the API shows it.
type Viewer struct {
	Account *ent.Account
	Role    auth.Role
	APIKey  *ent.ApiKey
	Source  *ent.Source
}

// ViewerOf loads the caller's account, key and source.
func (s *Service) ViewerOf(ctx context.Context) (*Viewer, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, auth.ErrUnauthenticated
	}
	v := &Viewer{Role: p.Role}
	var err error
	if v.Account, err = s.Client.Account.Get(ctx, p.AccountID); err != nil {
		return nil, err
	}
	if v.APIKey, err = s.Client.ApiKey.Get(ctx, p.KeyID); err != nil {
		return nil, err
	}
	if p.SourceID != nil {
		if v.Source, err = s.Client.Source.Get(ctx, *p.SourceID); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// GroupRules returns a group's rules in order.
func GroupRules(g *ent.RoutingGroup) []RoutingRule {
	out := make([]RoutingRule, len(g.Rules))
	for i, r := range g.Rules {
		out[i] = RoutingRule(r)
	}
	return out
}
