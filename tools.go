//go:build tools

// Package main's tool imports pin the code generators in go.mod.
package main

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/Khan/genqlient"
)
