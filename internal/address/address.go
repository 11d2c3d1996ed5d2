// Package address is the postal address value shared by the data layer,
// routing and the API.
package address

// Address is a ship-to address. Country is ISO 3166-1 alpha-2.
type Address struct {
	Name       string `json:"name,omitempty"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}
