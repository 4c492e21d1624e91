package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes, written as a whole number with an optional
// unit: B, decimal KB MB GB TB (powers of 1000) or binary KiB MiB GiB TiB
// (powers of 1024). Units ignore case: "8MiB", "8mib", "512KiB", "1MB",
// "1048576".
type Size int64

// sizeUnits lists the units, longest suffix first so "KiB" is not read as "B".
var sizeUnits = []struct {
	suffix string
	bytes  int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

var errSize = errors.New("not a size like 8MiB, 512KiB, 1MB or 1048576")

// ParseSize parses a Size; negative, fractional and overflowing values are
// errors.
func ParseSize(s string) (Size, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(num)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			num = strings.TrimSpace(num[:len(num)-len(u.suffix)])
			mult = u.bytes
			break
		}
	}
	// Digits only: ParseInt alone would take a sign.
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, errSize
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, errors.New("too large a size")
	}
	return Size(n * mult), nil
}

// UnmarshalText parses text with ParseSize.
func (z *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// String renders the size in the unit that gives the smallest whole number,
// preferring binary units on a tie, so ParseSize(z.String()) == z:
// 8388608 is "8MiB", 1000000 is "1MB", 1500 is "1500B".
func (z Size) String() string {
	n := int64(z)
	best, unit := n, "B"
	if n != 0 {
		for _, u := range []struct {
			name  string
			bytes int64
		}{
			{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
			{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3},
		} {
			if n%u.bytes == 0 && n/u.bytes < best {
				best, unit = n/u.bytes, u.name
			}
		}
	}
	return strconv.FormatInt(best, 10) + unit
}

// MarshalText returns String, so JSON shows "8MiB" rather than 8388608.
func (z Size) MarshalText() ([]byte, error) { return []byte(z.String()), nil }
