package ascii

import "testing"

func TestEqualFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"pagedMembers", "pagedmembers", true},
		{"API://BotId", "api://botid", true},
		{"", "", true},
		{"members", "member", false},
		{"s", "\u017f", false},      // long s
		{"k", "\u212a", false},      // Kelvin sign
		{"\u00e9", "\u00c9", false}, // only ASCII folds
		{"a-b", "a_b", false},
	}
	for _, tt := range tests {
		if got := EqualFold(tt.a, tt.b); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
