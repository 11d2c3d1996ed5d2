package demo

// What the external tests (package demo_test, which builds the app and so
// cannot live inside package demo) need of the package's internals.
var SeedAt = seedAt

const (
	SKUCount   = skuCount
	OrderCount = orderCount
)

// OrderWindow is how far back the demo orders go.
const OrderWindow = orderWindow
