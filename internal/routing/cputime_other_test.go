//go:build !linux

package routing

import "time"

// threadCPU is not measured outside Linux; benchmarks then report 0.
func threadCPU() time.Duration { return 0 }
