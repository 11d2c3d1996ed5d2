module github.com/frsvc/fulfillment/client

go 1.22.5

require (
	github.com/Khan/genqlient v0.8.1
	github.com/vektah/gqlparser/v2 v2.5.19
)

require github.com/google/uuid v1.6.0 // indirect
