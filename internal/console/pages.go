package console

// Page sizes: what one screen shows of a long list; the rest is a page
// away, so a page costs the same at 10 or 10,000 rules.
const (
	inventoryPage = 100
	groupsPage    = 25
	membersPage   = 200
	rulesPage     = 200
	// maxListed bounds how many objects of a kind a page reads to filter
	// and order them (the scale fixtures have 10,010 groups).
	maxListed = 200000
)
