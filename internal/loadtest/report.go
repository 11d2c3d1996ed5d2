package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// The goals the service is held to against the baseline.
const (
	goalThroughput = 0.5 // at least half the baseline's throughput
	goalP99        = 2.0 // p99 at most twice the baseline's at the same rate
)

func ms(d time.Duration) string {
	if d == failed {
		return "fail"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func yesNo(b bool) string {
	if b {
		return "**met**"
	}
	return "**not met**"
}

func stepAt(steps []stepResult, rate float64) (stepResult, bool) {
	for _, s := range steps {
		if s.Rate == rate {
			return s, true
		}
	}
	return stepResult{}, false
}

func satString(s serverReport) string {
	switch {
	case s.Saturation == 0:
		return "none sustained"
	case !s.SatBounded:
		return fmt.Sprintf("≥ %g req/s", s.Saturation)
	}
	return fmt.Sprintf("%g req/s", s.Saturation)
}

// writeReport prints the markdown report.
func writeReport(w io.Writer, o options, reports []dbReport, took time.Duration) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("# Load test: nested orders page, GraphQL service vs raw-SQL baseline")
	p("")
	p("Query: `%s`", pageQuery)
	p("")
	where := "Load generator, both servers and (for SQLite) the database engine share this process"
	if o.Processes > 1 {
		where = fmt.Sprintf("Ours is served by **%d server processes** (this binary re-executed, each with its own handler and connection pool on the one database), "+
			"the load generator sending requests to them in turn (round-robin); the load generator and the baseline share this process", o.Processes)
	}
	p("Open model: constant arrival rates for %s each (the fixed rates for at least %d requests), latency from the scheduled send time; a rate is *sustained* when "+
		"achieved ≥ 95%% of offered and p99 < %s (failures count as infinitely slow). Closed loop: %d clients for %s. "+
		"The two servers take turns, one step each (closed loop, then each rate), so that a drift in the machine's speed falls on both; each step starts after a garbage collection. "+
		"%s; GOMAXPROCS %d, GOGC %d, %s/%s. Total time %s.",
		o.Step, o.MinSamples, o.P99Bound, o.Clients, o.Closed, where, runtime.GOMAXPROCS(0), o.GCPercent, runtime.GOOS, runtime.GOARCH, took.Round(time.Second))
	for _, r := range reports {
		name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[r.Kind]
		p("")
		p("## %s", name)
		p("")
		if len(r.Processes) == 0 {
			p("Seeded %s. One page: %s, %.1f KB of JSON; %d SQL statements from the service (API-key lookup included), %d from the baseline. "+
				"Correctness check passed: both answers hold the same orders, lines, requests (number, status, source), items and logs.",
				r.Seed, r.Page, float64(r.PageBytes)/1024, r.Statements, baselineStatements)
		} else {
			p("Seeded %s. One page: %s, %.1f KB of JSON; %s SQL statements from the service (API-key lookup included), %d from the baseline. "+
				"Correctness check passed for each of the %d server processes: its answer and the baseline's hold the same orders, lines, requests (number, status, source), items and logs.",
				r.Seed, r.Page, float64(r.PageBytes)/1024, processStatements(r.Processes), baselineStatements, len(r.Processes))
			p("")
			p("Ours was served by %d server processes. GraphQL operations each answered in the whole run (check, warm-up and load; its own `fulfillment_graphql_duration_seconds_count`): %s.",
				len(r.Processes), processOperations(r.Processes))
		}
		p("")
		p("| measure | ours (GraphQL) | baseline (raw SQL) | ours / baseline | goal | met |")
		p("|---|--:|--:|--:|---|---|")
		satRatio := 0.0
		if r.Base.Saturation > 0 {
			satRatio = r.Ours.Saturation / r.Base.Saturation
		}
		satNote := ""
		if !r.Base.SatBounded && r.Base.Saturation > 0 {
			satNote = " (baseline's is a lower bound)"
		}
		p("| throughput at saturation (open loop) | %s | %s | %.2f | ≥ %.2f%s | %s |", satString(r.Ours), satString(r.Base),
			satRatio, goalThroughput, satNote, yesNo(satRatio >= goalThroughput))
		closedRatio := 0.0
		if r.Base.Closed.Achieved > 0 {
			closedRatio = r.Ours.Closed.Achieved / r.Base.Closed.Achieved
		}
		p("| max throughput, closed loop (%d clients) | %.1f req/s | %.1f req/s | %.2f | ≥ %.2f | %s |", o.Clients,
			r.Ours.Closed.Achieved, r.Base.Closed.Achieved, closedRatio, goalThroughput, yesNo(closedRatio >= goalThroughput))
		p("| closed loop p50 / p99 | %s / %s | %s / %s | %s / %s | | |", ms(r.Ours.Closed.P50), ms(r.Ours.Closed.P99),
			ms(r.Base.Closed.P50), ms(r.Base.Closed.P99), ratio(r.Ours.Closed.P50, r.Base.Closed.P50), ratio(r.Ours.Closed.P99, r.Base.Closed.P99))
		switch {
		case r.Ours.Closed.CPUPerOK > 0 && len(r.Processes) > 0:
			// Ours: the server processes plus this process (the load
			// generator), as the baseline's figure is its server plus the
			// load generator.
			p("| CPU per request, closed loop (ours: its %d server processes + the load generator; baseline: this process) | %s (servers %s) | %s | %s | | |",
				len(r.Processes), ms(r.Ours.Closed.CPUPerOK), ms(r.Ours.Closed.ServerCPUPerOK), ms(r.Base.Closed.CPUPerOK),
				ratio(r.Ours.Closed.CPUPerOK, r.Base.Closed.CPUPerOK))
		case r.Ours.Closed.CPUPerOK > 0:
			p("| process CPU per request, closed loop | %s | %s | %s | | |", ms(r.Ours.Closed.CPUPerOK), ms(r.Base.Closed.CPUPerOK),
				ratio(r.Ours.Closed.CPUPerOK, r.Base.Closed.CPUPerOK))
		}
		var p99Missed []string
		for _, rate := range o.Rates {
			a, okA := stepAt(r.Ours.Steps, rate)
			b, okB := stepAt(r.Base.Steps, rate)
			if !okA || !okB {
				continue
			}
			p("| p50 @ %g req/s | %s | %s | %s | | |", rate, ms(a.P50), ms(b.P50), ratio(a.P50, b.P50))
			met := a.P99 != failed && (b.P99 == failed || float64(a.P99) <= goalP99*float64(b.P99))
			if !met {
				p99Missed = append(p99Missed, fmt.Sprintf("%g", rate))
			}
			p("| p99 @ %g req/s | %s%s | %s%s | %s | ≤ %.2f | %s |", rate, ms(a.P99), mark(a), ms(b.P99), mark(b), ratio(a.P99, b.P99), goalP99, yesNo(met))
		}
		p("")
		p("Goals on %s: throughput ≥ %.0f%% of the baseline's at saturation: %s (%.0f%%); p99 ≤ %.0f× the baseline's at every fixed rate: %s%s.",
			name, goalThroughput*100, yesNo(satRatio >= goalThroughput), satRatio*100, goalP99, yesNo(len(p99Missed) == 0),
			missedAt(p99Missed))
		p("")
		p("<details><summary>%s: every run</summary>", name)
		p("")
		p("| server | run | achieved | ok / sent | failed | dropped | p50 | p90 | p99 | max | sustained |")
		p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
		for _, s := range []struct {
			name string
			r    serverReport
		}{{"ours", r.Ours}, {"baseline", r.Base}} {
			c := s.r.Closed
			p("| %s | closed loop, %d clients | %.1f req/s | %d / %d | %d | %d | %s | %s | %s | %s | |", s.name, c.Clients,
				c.Achieved, c.OK, c.Sent, c.Failed, c.Dropped, ms(c.P50), ms(c.P90), ms(c.P99), ms(c.Max))
			for _, st := range s.r.Steps {
				p("| %s | %g req/s | %.1f req/s | %d / %d | %d | %d | %s | %s | %s | %s | %s |", s.name, st.Rate,
					st.Achieved, st.OK, st.Sent, st.Failed, st.Dropped, ms(st.P50), ms(st.P90), ms(st.P99), ms(st.Max), map[bool]string{true: "yes", false: "no"}[st.Pass])
			}
		}
		p("")
		p("</details>")
	}
}

// processStatements is the statements each server process sent for its
// check's page: one number when all agree.
func processStatements(procs []processReport) string {
	var s []string
	same := true
	for _, pr := range procs {
		s = append(s, fmt.Sprintf("%d", pr.Statements))
		same = same && pr.Statements == procs[0].Statements
	}
	if same {
		return s[0]
	}
	return strings.Join(s, " / ")
}

// processOperations lists the operations each server process answered.
func processOperations(procs []processReport) string {
	var s []string
	for i, pr := range procs {
		s = append(s, fmt.Sprintf("process %d (pid %d): %d", i+1, pr.PID, pr.Operations))
	}
	return strings.Join(s, ", ")
}

// mark flags a run that was not sustained.
func mark(s stepResult) string {
	if s.Pass {
		return ""
	}
	return " (overloaded)"
}

func ratio(a, b time.Duration) string {
	switch {
	case a == failed && b == failed:
		return "n/a"
	case a == failed:
		return "∞"
	case b == failed || b == 0:
		return "0"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func missedAt(rates []string) string {
	if len(rates) == 0 {
		return ""
	}
	return " (missed at " + strings.Join(rates, ", ") + " req/s)"
}
