package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

// The documents these tests hold to the code, relative to this package.
const (
	readmePath        = "../../README.md"
	configurationPath = "../../docs/configuration.md"
)

// TestDocsConfigurationDocumentsEveryVariable keeps the configuration table
// honest: every variable the sidecar reads has a row, with its alias and
// its default.
func TestDocsConfigurationDocumentsEveryVariable(t *testing.T) {
	table := section(t, configurationPath, "Variables")
	for _, v := range config.Variables() {
		row := ""
		for line := range strings.Lines(table) {
			if strings.HasPrefix(line, "| `"+v.Name+"` |") {
				row = line
				break
			}
		}
		if row == "" {
			t.Errorf("docs/configuration.md's table has no row for %s", v.Name)
			continue
		}
		if v.Alias != "" && !strings.Contains(row, "`"+v.Alias+"`") {
			t.Errorf("docs/configuration.md's row for %s lacks its alias %s", v.Name, v.Alias)
		}
		if v.Default != "" && !strings.Contains(row, "`"+v.Default+"`") {
			t.Errorf("docs/configuration.md's row for %s lacks its default %q: %s", v.Name, v.Default, row)
		}
	}
}

// TestReadmeQuickStartCommands holds the README to its promise of two
// commands that work on a fresh machine: the demo, which TestDemo runs as
// `run(ctx, []string{"demo"}, …)`, and the test command, which must be
// exactly what CI runs.
func TestReadmeQuickStartCommands(t *testing.T) {
	commands := shellLines(t, readmePath)
	for _, want := range []string{"go run ./cmd/sidecar demo", "./scripts/test"} {
		if !slices.Contains(commands, want) {
			t.Errorf("the README has no sh block with the line %q; its sh lines: %q", want, commands)
		}
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(ci), "\n"), "exec ./scripts/test") {
		t.Errorf(".ci/run does not `exec ./scripts/test`, the README's test command:\n%s", ci)
	}
	info, err := os.Stat("../../scripts/test")
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&0o111 == 0 {
		t.Errorf("scripts/test mode = %v; want it executable, as the README runs it", info.Mode())
	}
}

// TestDocsLinksResolve checks every relative link of the README and docs/:
// the file exists, and a #fragment names a heading of the file it points
// to, so that moving a section cannot leave a link dangling.
func TestDocsLinksResolve(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md found")
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range append([]string{readmePath}, docs...) {
		links := link.FindAllStringSubmatch(withoutCode(t, doc), -1)
		for _, m := range links {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, fragment, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", filepath.Base(doc), target)
				continue
			}
			if fragment != "" && !slices.Contains(anchors(t, path), fragment) {
				t.Errorf("%s links to %s: %s has no heading with anchor #%s (it has %q)",
					filepath.Base(doc), target, filepath.Base(path), fragment, anchors(t, path))
			}
		}
	}
}

// section returns the body of the "## name" section of a Markdown file,
// up to the next heading of the same or a higher level.
func section(t *testing.T, path, name string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(b), "\n## "+name+"\n")
	if !ok {
		t.Fatalf("%s has no %q section", path, "## "+name)
	}
	if end := strings.Index(body, "\n## "); end >= 0 {
		body = body[:end]
	}
	return body
}

// shellLines returns the lines of a Markdown file's ```sh blocks.
func shellLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(string(b), -1) {
		lines = append(lines, strings.Split(strings.TrimSuffix(m[1], "\n"), "\n")...)
	}
	return lines
}

// withoutCode returns a Markdown file without its fenced code blocks, where
// brackets and parentheses are code, not links.
func withoutCode(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```").ReplaceAllString(string(b), "")
}

// anchors returns the anchors GitHub gives a Markdown file's headings:
// lower case, punctuation other than '-' and '_' dropped, spaces as '-'.
func anchors(t *testing.T, path string) []string {
	t.Helper()
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	var out []string
	for line := range strings.Lines(withoutCode(t, path)) {
		heading, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "#")
		if !ok {
			continue
		}
		heading = strings.TrimLeft(heading, "#")
		if !strings.HasPrefix(heading, " ") {
			continue
		}
		slug := drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), "")
		out = append(out, strings.ReplaceAll(slug, " ", "-"))
	}
	return out
}
