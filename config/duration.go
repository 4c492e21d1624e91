package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

var errDuration = errors.New("not a duration like 14s, 12h or 365d")

// ParseDuration parses a Go duration ("90s", "1h30m") that may start with a
// whole number of days ("365d", "1d12h"): retention is naturally written in
// days, which time.ParseDuration lacks. Go durations never contain a "d", so
// the two forms cannot be confused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	before, after, hasDays := strings.Cut(s, "d")
	if hasDays {
		if before == "" || strings.TrimLeft(before, "0123456789") != "" {
			return 0, errDuration
		}
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, errors.New("too long a duration")
		}
		days = time.Duration(n) * 24 * time.Hour
		if after == "" {
			return days, nil
		}
		s = after
	}
	d, err := time.ParseDuration(s)
	// A sign after the days ("1d-1h") would make a confusing sum.
	if err != nil || (hasDays && strings.ContainsAny(s, "+-")) {
		return 0, errDuration
	}
	if d > math.MaxInt64-days {
		return 0, errors.New("too long a duration")
	}
	return days + d, nil
}
