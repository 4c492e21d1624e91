package rewrite

import "bytes"

// editor builds an edited copy of src by copying the original bytes between
// the spans it replaces. Edits must come in increasing offset order, which
// a single front-to-back walk of the body (nested objects included)
// guarantees. Nothing is allocated until the first edit that changes a
// byte, so a body that already says the right things is returned as is.
type editor struct {
	src  []byte
	out  []byte // nil until the first change
	done int    // src[:done] has been copied (or replaced) into out
	grow int    // bytes to reserve beyond len(src) when out is allocated
}

// copyTo copies the untouched bytes up to at.
func (w *editor) copyTo(at int) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.src)+w.grow)
	}
	w.out = append(w.out, w.src[w.done:at]...)
	w.done = at
}

// replaceRaw replaces the current value of m with raw, a validated value.
func (w *editor) replaceRaw(m *members, raw []byte) {
	if bytes.Equal(w.src[m.valStart:m.valEnd], raw) {
		return
	}
	w.copyTo(m.valStart)
	w.out = append(w.out, raw...)
	w.done = m.valEnd
}

// replaceString replaces the current value of m with s as a JSON string.
func (w *editor) replaceString(m *members, s string) {
	if isQuoted(w.src[m.valStart:m.valEnd], s) {
		return
	}
	w.copyTo(m.valStart)
	w.out = appendQuoted(w.out, s)
	w.done = m.valEnd
}

// addKey starts a new member "name": after the last member of the object m
// has walked to its end. It copies the whitespace around the first member's
// key and colon, so that
//
//	{
//	  "text": "hi"
//	}
//
// gains a member as `,\n  "name": value` and a compact object stays compact.
func (w *editor) addKey(m *members, name string) {
	w.copyTo(m.after)
	src := m.src
	if m.n > 0 {
		w.out = append(w.out, ',')
	}
	if m.firstKeyEnd > 0 {
		w.out = append(w.out, src[m.open+1:m.firstKeyStart]...)
	}
	w.out = append(w.out, '"')
	w.out = append(w.out, name...)
	w.out = append(w.out, '"')
	if m.firstKeyEnd > 0 {
		w.out = append(w.out, src[m.firstKeyEnd:m.firstColon]...)
	}
	w.out = append(w.out, ':')
	if m.firstKeyEnd > 0 {
		w.out = append(w.out, src[m.firstColon+1:m.firstValStart]...)
	}
	m.n++
}

// addRaw adds the member "name": raw at the end of the object m walked.
func (w *editor) addRaw(m *members, name string, raw []byte) {
	w.addKey(m, name)
	w.out = append(w.out, raw...)
}

// addString adds the member "name": "s" at the end of the object m walked.
func (w *editor) addString(m *members, name, s string) {
	w.addKey(m, name)
	w.out = appendQuoted(w.out, s)
}

// result returns the edited body, or src itself when nothing changed.
func (w *editor) result() []byte {
	if w.out == nil {
		return w.src
	}
	return append(w.out, w.src[w.done:]...)
}
