// Package routing is the routing engine of DOMAIN.md ("Routing"): given a
// snapshot of an order, the account's routing groups, sources and inventory,
// it decides which sources should ship which quantities, or why the order
// cannot be routed.
//
// The engine is a pure function. It reads no database and no clock and keeps
// no state between calls, so that preview (no writes) and generate (inside the
// write transaction) run exactly the same code and reach exactly the same
// decision, and so that tests can check it against a brute-force enumeration.
// The only link to the outside world is the context: its deadline is the search
// budget (callers use DefaultBudget), and Options.MaxNodes is a deterministic
// alternative for tests.
//
// # The decision is exact
//
// The rules of a group are filters applied in order; after them come fixed
// tie-breaks. Together that is the minimisation of one lexicographic key per
// plan: the rule keys in the group's order, then (number of sources, cost,
// sorted priorities, sorted source IDs, assignment). Every key except the cost
// and the assignment depends only on the set of sources a plan uses, and for a
// fixed set the cheapest assignment is always preferred. So the engine searches
// over source sets (branch and bound, include/exclude per source) and, for each
// set it reaches, computes the cheapest assignment that uses every source of the
// set:
//
//   - with line splitting, lines of one SKU cost the same per unit at a given
//     source, so the cheapest assignment is a per-SKU greedy fill by unit cost
//     plus per-unit shipping; when that leaves a source of the set empty, a few
//     shortest augmenting paths (a min-cost flow with a lower bound of one unit
//     per source) move the cheapest units there, because a source that ships
//     nothing is not in the plan;
//   - without splitting, each line goes whole to the cheapest source that can
//     take it, and a small depth-first search settles shared capacity and empty
//     sources when that simple choice does not work.
//
// Subtrees are pruned with a lower bound on every key at once: the number of
// sources still needed to cover the demand, the lexicographically smallest
// priority and ID lists any superset can have, and for the cost a dual-ascent
// bound (Erlenkotter) of the facility-location relaxation, in which a source
// holding only part of a line may serve only that fraction of it. The dual
// slacks also close sources that cannot take part in a better plan, pick the
// next source to branch on and suggest good plans early. See search.go.
//
// When the budget runs out the best plan found so far is returned with
// Optimal=false and LowerBound, a proven lower bound on the cost of the true
// best plan under the group's rules (see Plan.LowerBound). A plan is never
// marked optimal without proof.
//
// # Exact arithmetic
//
// Costs are exact int64 ten-thousandths (money.Amount). Before a group is
// searched, its costs are formed with checked arithmetic and bounded
// (MaxCost, see range.go), so that no sum the search makes can wrap; the
// dual ascent's cost-times-quantity weights are taken in 128 bits. A group
// outside the range gets an OUT_OF_RANGE roadblock: the engine answers no
// plan rather than a plan with a wrapped cost.
//
// # Explanations
//
// For each rule that removed plans, GroupEvaluation.Eliminated holds the best
// plan that rule removed, found by a constrained run of the same search: the
// rules before it must keep their chosen values, the rule itself must be
// worse, and the remaining rules and tie-breaks order the rest. See
// Elimination for how "plan" is understood there.
package routing
