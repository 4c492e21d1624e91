package rewrite

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// validTests are JSON texts on both sides of the grammar's edges. The
// scanner must agree with json.Valid on every one of them.
var validTests = []string{
	`0`, `-0`, `1`, `-1`, `10`, `0.5`, `-0.5e10`, `1E+2`, `1e-2`, `123456789012345678901234567890`,
	`01`, `-`, `+1`, `.5`, `1.`, `1e`, `1e+`, `0x10`, `NaN`, `Infinity`, `1 2`,
	`true`, `false`, `null`, `tru`, `nul`, `True`, `nulll`,
	`""`, `"a"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u00e9"`, `"\uD83D\uDE00"`, `"\ud800"`,
	`"\x"`, `"\u12"`, `"\u12G4"`, "\"\x01\"", "\"\x7f\"", "\"\xff\xfe\"", `"abc`, `"\`,
	`[]`, `[ ]`, `[1]`, `[1,2]`, `[1,]`, `[,1]`, `[1 2]`, `[`, `]`, `[[[]]]`, `[[[]]`,
	`{}`, `{ }`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:1}`, `{"a":1 "b":2}`, `{"a":1}}`,
	`{"a":[{"b":{"c":[1,{"d":null}]}}]}`, `{"a":[}`, `{"a":{]}`,
	" \t\r\n{} \t\r\n", "\v{}", "\u00a0{}", "\ufeff{}", ``, ` `,
}

func TestScannerAgreesWithJSONValid(t *testing.T) {
	t.Parallel()
	for _, give := range validTests {
		if got, want := scanValid([]byte(give)), json.Valid([]byte(give)); got != want {
			t.Errorf("scanValid(%q) = %v; json.Valid says %v", give, got, want)
		}
	}
}

// scanValid reports whether the scanner accepts src as one JSON text.
func scanValid(src []byte) bool {
	i := skipWS(src, 0)
	end, err := skipValue(src, i, 0)
	return err == nil && endOfInput(src, end) == nil
}

func TestMembersIs(t *testing.T) {
	t.Parallel()
	names := []string{"from", "serviceUrl", "conversation", "channelId", "recipient", "id", "tenantId", "activity"}
	keys := []string{
		"from", "From", "FROM", "fRoM", "fro", "fromm", "frOm ", "serviceUrl", "SERVICEURL", "ſerviceUrl",
		"ſERVICEURL", "recipient", "recipienT", "ID", "Id", "iD", "tenantid", "TENANTID", "activity",
		"ACTIVITY", "conversatioN", "channelid", "channelld", "fröm", "from\x00", "\xffrom", "\u212a",
		"servıceUrl", "servİceUrl", "",
	}
	for _, key := range keys {
		for _, name := range names {
			m := members{}
			m.setKey([]byte(key))
			if got, want := m.is(name), bytes.EqualFold([]byte(key), []byte(name)); got != want {
				t.Errorf("members{key: %q}.is(%q) = %v; want %v", key, name, got, want)
			}
		}
	}
}

func TestAppendQuoted(t *testing.T) {
	t.Parallel()
	tests := []string{
		"", "plain", `"quotes"`, `back\slash`, "new\nline\r\ttab", "\x00\x01\x1f\x7f",
		"é😀", "\u2028\u2029", "<&>", "bad\xffutf8\xc3", "https://smba.trafficmanager.net/emea/?a=1&b=2",
		strings.Repeat("é", 40),
	}
	for _, give := range tests {
		got := appendQuoted(nil, give)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendQuoted(%q) = %s; not a JSON string: %v", give, got, err)
			continue
		}
		// encoding/json decodes to the same text as its own encoding does.
		want, _ := json.Marshal(give)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("appendQuoted(%q) decodes to %q; want %q", give, back, wantBack)
		}
		if !isQuoted(got, give) {
			t.Errorf("isQuoted(appendQuoted(%q), %q) = false; want true", give, give)
		}
		if isQuoted(append(got[:len(got)-1:len(got)-1], ` "`...), give) {
			t.Errorf("isQuoted(%s, %q) = true for different bytes", got, give)
		}
	}
}

func TestUnquote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string
	}{
		{`""`, ""},
		{`"plain"`, "plain"},
		{`"caf\u00e9 \ud83d\ude80 \/ \""`, "café 🚀 / \""},
		{"\"bad\xff\"", "bad\ufffd"},
		{`"\ud800"`, "\ufffd"},
	}
	for _, tt := range tests {
		if got := unquote([]byte(tt.give)); got != tt.want {
			t.Errorf("unquote(%q) = %q; want %q", tt.give, got, tt.want)
		}
	}
}

// TestSkipPlain checks the eight-bytes-at-a-time scan against the table
// for every byte value at every position of a word and its tail.
func TestSkipPlain(t *testing.T) {
	t.Parallel()
	naive := func(src []byte, i int) int {
		for i < len(src) && plain[src[i]] {
			i++
		}
		return i
	}
	for n := 0; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				src := bytes.Repeat([]byte{'a'}, n)
				// Neighbours that stress borrows: a byte just above a special one.
				if pos > 0 {
					src[pos-1] = 0xff
				}
				src[pos] = byte(c)
				for start := 0; start <= pos; start++ {
					if got, want := skipPlain(src, start), naive(src, start); got != want {
						t.Fatalf("skipPlain(%q, %d) = %d; want %d", src, start, got, want)
					}
				}
			}
		}
	}
	// Several special bytes per word, from an alphabet of neighbours.
	alphabet := []byte{'a', '"', '\\', '!', '#', '[', ']', 0x00, 0x01, 0x1f, 0x20, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		src := make([]byte, r.IntN(40))
		for i := range src {
			src[i] = alphabet[r.IntN(len(alphabet))]
		}
		start := 0
		if len(src) > 0 {
			start = r.IntN(len(src))
		}
		if got, want := skipPlain(src, start), naive(src, start); got != want {
			t.Fatalf("skipPlain(%q, %d) = %d; want %d", src, start, got, want)
		}
	}
}
