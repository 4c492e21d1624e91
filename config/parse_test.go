package config_test

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/config"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    config.Size
		wantErr bool
	}{
		{give: "8MiB", want: 8 << 20},
		{give: "512KiB", want: 512 << 10},
		{give: "1MB", want: 1e6},
		{give: "1048576", want: 1 << 20},
		{give: "2GiB", want: 2 << 30},
		{give: "100B", want: 100},
		{give: "10KB", want: 10e3},
		{give: "1TiB", want: 1 << 40},
		{give: "3GB", want: 3e9},
		{give: "8mib", want: 8 << 20},
		{give: " 8 MiB ", want: 8 << 20},
		{give: "0", want: 0},
		{give: "9223372036854775807", want: math.MaxInt64},
		{give: "", wantErr: true},
		{give: "MiB", wantErr: true},
		{give: "-1", wantErr: true},
		{give: "-1MiB", wantErr: true},
		{give: "+1MiB", wantErr: true},
		{give: "1.5MiB", wantErr: true},
		{give: "8MB!", wantErr: true},
		{give: "8 M", wantErr: true},
		{give: "8Mb ps", wantErr: true},
		{give: "0x10", wantErr: true},
		{give: "9223372036854775808", wantErr: true},
		{give: "8388608TiB", wantErr: true},
	}
	for _, tt := range tests {
		got, err := config.ParseSize(tt.give)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give config.Size
		want string
	}{
		{give: 8 << 20, want: "8MiB"},
		{give: 1e6, want: "1MB"},
		{give: 1500, want: "1500B"},
		{give: 1536, want: "1536B"}, // 1.5KiB: no whole unit
		{give: 0, want: "0B"},
		{give: 1, want: "1B"},
		{give: 2 << 30, want: "2GiB"},
		{give: 1024000, want: "1000KiB"},
		{give: 5e12, want: "5TB"},
	}
	for _, tt := range tests {
		got := tt.give.String()
		if got != tt.want {
			t.Errorf("Size(%d).String() = %q; want %q", int64(tt.give), got, tt.want)
		}
		// String must round-trip.
		if back, err := config.ParseSize(got); err != nil || back != tt.give {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", got, back, err, tt.give)
		}
	}
	b, err := json.Marshal(struct{ Max config.Size }{8 << 20})
	if err != nil || string(b) != `{"Max":"8MiB"}` {
		t.Errorf("json.Marshal(Size) = %s, %v", b, err)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		give    string
		want    time.Duration
		wantErr bool
	}{
		{give: "365d", want: 365 * day},
		{give: "30d", want: 30 * day},
		{give: "12h", want: 12 * time.Hour},
		{give: "14s", want: 14 * time.Second},
		{give: "1h30m", want: 90 * time.Minute},
		{give: "1d12h", want: 36 * time.Hour},
		{give: "0d", want: 0},
		{give: "0", want: 0},
		{give: "-1h", want: -time.Hour},
		{give: "", wantErr: true},
		{give: "d", wantErr: true},
		{give: "1.5d", wantErr: true},
		{give: "-1d", wantErr: true},
		{give: "1d-1h", wantErr: true},
		{give: "1dd", wantErr: true},
		{give: "14", wantErr: true},
		{give: "forever", wantErr: true},
		{give: "106752d", wantErr: true},
		// time.Duration's limit is 106751d23h47m16.854775807s.
		{give: "106751d23h47m16s", want: 106751*day + 23*time.Hour + 47*time.Minute + 16*time.Second},
		{give: "106751d23h48m", wantErr: true},
		{give: strconv.FormatInt(math.MaxInt64, 10) + "d", wantErr: true},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.give)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}
