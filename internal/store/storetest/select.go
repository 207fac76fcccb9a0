package storetest

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/store"
)

// RunGroups runs the named parts of the suite against the engine open
// makes, as Run does: a whole group by its name ("Calls"), or one case by
// "Group/Case" ("Calls/Create"). It is for an engine that keeps part of
// the contract so far. A name the suite lacks fails t, so a case renamed
// in the suite cannot silently drop out of an engine's run.
func RunGroups(t *testing.T, open func(t *testing.T) store.Store, names ...string) {
	var order []string // groups, in the order first named
	selected := map[string][]testCase{}
	for _, name := range names {
		groupName, caseName, one := strings.Cut(name, "/")
		cases, ok := groupCases(groupName)
		if one {
			cases = casesNamed(cases, caseName)
		}
		if !ok || len(cases) == 0 {
			t.Errorf("storetest has no %q", name)
			continue
		}
		if _, seen := selected[groupName]; !seen {
			order = append(order, groupName)
		}
		selected[groupName] = append(selected[groupName], cases...)
	}
	for _, g := range order {
		runGroup(t, g, selected[g], open)
	}
}

// groupCases returns the cases of the group called name.
func groupCases(name string) ([]testCase, bool) {
	for _, g := range groups {
		if g.name == name {
			return g.cases, true
		}
	}
	return nil, false
}

// casesNamed returns the case of cases called name, if any.
func casesNamed(cases []testCase, name string) []testCase {
	for _, c := range cases {
		if c.name == name {
			return []testCase{c}
		}
	}
	return nil
}
