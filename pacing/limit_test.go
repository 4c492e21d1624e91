package pacing

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want []Window
	}{
		{"teams send", TeamsSend, []Window{{7, time.Second}, {8, 2 * time.Second}, {60, 30 * time.Second}, {1800, time.Hour}}},
		{"teams read", TeamsRead, []Window{{14, time.Second}, {16, 2 * time.Second}, {120, 30 * time.Second}, {3600, time.Hour}}},
		{"bare unit", "50/s", []Window{{50, time.Second}}},
		{"sorted", "1800/3600s, 7/1s", []Window{{7, time.Second}, {1800, time.Hour}}},
		{"fraction", "5/1.5s", []Window{{5, 1500 * time.Millisecond}}},
		{"off", "off", nil},
		{"none", " None ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLimit(tt.give)
			if err != nil {
				t.Fatalf("ParseLimit(%q): %v", tt.give, err)
			}
			if !slices.Equal(got.Windows(), tt.want) {
				t.Errorf("ParseLimit(%q) = %v; want %v", tt.give, got.Windows(), tt.want)
			}
			again, err := ParseLimit(got.String())
			if err != nil || !slices.Equal(again.Windows(), tt.want) {
				t.Errorf("ParseLimit(%q.String() = %q) = %v, %v; want the same windows", tt.give, got.String(), again.Windows(), err)
			}
		})
	}
}

func TestParseLimitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
	}{
		{"empty", ""},
		{"no slash", "7"},
		{"count not a number", "seven/1s"},
		{"zero count", "0/1s"},
		{"negative count", "-1/1s"},
		{"count too large", "10001/1h"},
		{"bad unit", "7/1x"},
		{"no period", "7/"},
		{"zero period", "7/0s"},
		{"negative period", "7/-1s"},
		{"same period twice", "7/1s,8/1s"},
		{"empty window", "7/1s,,8/2s"},
		{"too many windows", "1/1s,2/2s,3/3s,4/4s,5/5s,6/6s,7/7s,8/8s,9/9s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLimit(tt.give)
			if !errors.Is(err, ErrInvalidLimit) {
				t.Errorf("ParseLimit(%q) = %v; want ErrInvalidLimit", tt.give, err)
			}
		})
	}
}

func TestLimitUnmarshalText(t *testing.T) {
	t.Parallel()
	var l Limit
	if err := l.UnmarshalText([]byte("8/2s,7/1s")); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "7/1s,8/2s" {
		t.Errorf("String() = %q; want %q", got, "7/1s,8/2s")
	}
	if err := l.UnmarshalText([]byte("8 per 2s")); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("UnmarshalText(8 per 2s) = %v; want ErrInvalidLimit", err)
	}
}

func TestLimitShare(t *testing.T) {
	t.Parallel()
	send := mustLimit(t, TeamsSend)
	got, err := send.share(2)
	if err != nil {
		t.Fatal(err)
	}
	if want := "3/1s,4/2s,30/30s,900/1h"; got.String() != want {
		t.Errorf("share(2) = %s; want %s", got, want)
	}
	if _, err := send.share(8); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("share(8) = %v; want ErrInvalidLimit: 7/1s leaves 0 per replica", err)
	}
	if _, err := New(Options{Send: send, Replicas: 8}); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("New(Replicas 8) = %v; want ErrInvalidLimit", err)
	}
}

func mustLimit(tb testing.TB, s string) Limit {
	tb.Helper()
	l, err := ParseLimit(s)
	if err != nil {
		tb.Fatalf("ParseLimit(%q): %v", s, err)
	}
	return l
}

func TestSpread(t *testing.T) {
	for give, want := range map[string]string{
		"50/1s":            "1/10ms,50/1s",
		"7/1s,8/2s,60/30s": "1/71.428571ms,7/1s,8/2s,60/30s",
		"1/1s":             "1/1s",
		"10000/1s":         "10000/1s", // a 50µs gap: not spread
		"off":              "off",
	} {
		if got := mustLimit(t, give).spread().String(); got != want {
			t.Errorf("spread(%s) = %s; want %s", give, got, want)
		}
	}
}
