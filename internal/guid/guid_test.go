package guid

import "testing"

func TestIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{"3b1e5c2a-9f8d-4e7c-a6b5-c4d3e2f1a0b9", true},
		{"3B1E5C2A-9F8D-4E7C-A6B5-C4D3E2F1A0B9", true},
		{"contoso.onmicrosoft.com", false},
		{"29:1abc", false},
		{"3b1e5c2a9f8d4e7ca6b5c4d3e2f1a0b9", false},
		{"3b1e5c2a-9f8d-4e7c-a6b5-c4d3e2f1a0bz", false},
		{"{3b1e5c2a-9f8d-4e7c-a6b5-c4d3e2f1a0b9}", false},
		{"3b1e5c2a-9f8d-4e7c-a6b5_c4d3e2f1a0b9", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Is(tt.give); got != tt.want {
			t.Errorf("Is(%q) = %v; want %v", tt.give, got, tt.want)
		}
	}
}
