//go:build linux

// Package deploy_test checks the container image without a Docker engine:
// it reads the Dockerfile and .dockerignore, builds the binary exactly as the
// Dockerfile's build stage does, checks that it is static, and runs it as
// the image's non-root user (65532) the way the image lays it out.
package deploy_test

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// nonroot is the uid and gid of distroless's nonroot user.
	nonroot = 65532
	// version is what the test stamps into the binary.
	version = "e2e-test"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
	line int
}

// stage is one FROM and the instructions after it.
type stage struct {
	image, name string
	flags       []string
	body        []instruction
}

// parseDockerfile reads a Dockerfile into stages. It handles what this
// Dockerfile uses: comments, blank lines and "\" continuations.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		text := pending.String()
		pending.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			var s stage
			fields := strings.Fields(in.args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				s.flags, fields = append(s.flags, fields[0]), fields[1:]
			}
			if len(fields) == 0 {
				t.Fatalf("Dockerfile:%d: FROM without an image", in.line)
			}
			s.image = fields[0]
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// find returns the index of the first instruction of s matching cmd and
// whose arguments satisfy match, or -1.
func (s stage) find(cmd string, match func(string) bool) int {
	return slices.IndexFunc(s.body, func(in instruction) bool { return in.cmd == cmd && match(in.args) })
}

// buildCommand returns the build stage's `go build` RUN line.
func buildCommand(t *testing.T, build stage) instruction {
	t.Helper()
	i := build.find("RUN", func(a string) bool { return strings.Contains(a, "go build") })
	if i < 0 {
		t.Fatal("the build stage has no RUN … go build")
	}
	return build.body[i]
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, filepath.Join("..", "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages; want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("build stage", func(t *testing.T) {
		if !strings.HasPrefix(build.image, "golang:1.26") || build.name == "" {
			t.Errorf("build stage FROM %s AS %q; want golang:1.26 AS <name>", build.image, build.name)
		}
		run := buildCommand(t, build)
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-X main.version=${VERSION}`, "./cmd/sidecar", "-s -w"} {
			if !strings.Contains(run.args, want) {
				t.Errorf("Dockerfile:%d: go build lacks %q", run.line, want)
			}
		}
		if i := build.find("ARG", func(a string) bool { return a == "VERSION=dev" }); i < 0 || build.body[i].line > run.line {
			t.Error("the build stage lacks ARG VERSION=dev before go build")
		}
		// Modules are downloaded in their own layer, before the sources
		// are copied, so that a source change does not download again.
		order := []int{
			build.find("COPY", func(a string) bool { return a == "go.mod go.sum ./" }),
			build.find("RUN", func(a string) bool { return a == "go mod download" }),
			build.find("COPY", func(a string) bool { return a == ". ." }),
			slices.Index(build.body, run),
		}
		if slices.Contains(order, -1) || !slices.IsSorted(order) {
			t.Errorf("build stage order (COPY go.mod go.sum, RUN go mod download, COPY . ., go build) = %v; want increasing", order)
		}
	})

	t.Run("final stage", func(t *testing.T) {
		if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
			t.Errorf("final FROM %s; want distroless/static or scratch", final.image)
		}
		user := final.find("USER", func(string) bool { return true })
		if user < 0 {
			t.Fatal("the final stage has no USER")
		}
		uid, gid, _ := strings.Cut(final.body[user].args, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("USER %s; want a numeric non-root uid (runAsNonRoot can only verify numbers)", final.body[user].args)
		}
		if _, err := strconv.Atoi(gid); gid != "" && err != nil {
			t.Errorf("USER %s: the group is not numeric", final.body[user].args)
		}
		if final.find("ENTRYPOINT", func(a string) bool { return a == `["/sidecar"]` }) < 0 {
			t.Error(`the final stage lacks ENTRYPOINT ["/sidecar"]`)
		}
		if final.find("COPY", func(a string) bool {
			return strings.HasPrefix(a, "--from="+build.name+" ") && strings.HasSuffix(a, " /sidecar")
		}) < 0 {
			t.Errorf("the final stage does not copy /sidecar from the %s stage", build.name)
		}
		expose := final.find("EXPOSE", func(string) bool { return true })
		if expose < 0 {
			t.Fatal("the final stage has no EXPOSE")
		}
		ports := strings.Fields(final.body[expose].args)
		if !slices.Contains(ports, "3978") || !slices.Contains(ports, "9090") || slices.Contains(ports, "3979") {
			t.Errorf("EXPOSE %v; want 3978 and 9090, never the loopback-only 3979", ports)
		}
		// The bolt default ./data/references.db is relative: the working
		// directory must hold a data/ the non-root user can write.
		workdir := final.find("WORKDIR", func(a string) bool { return a == "/var/lib/sidecar" })
		chown := final.find("COPY", func(a string) bool {
			return strings.Contains(a, fmt.Sprintf("--chown=%d:%d", nonroot, nonroot)) && strings.HasSuffix(a, " /var/lib/sidecar")
		})
		if workdir < 0 || chown < 0 {
			t.Error("the final stage lacks WORKDIR /var/lib/sidecar populated by a COPY --chown=65532:65532")
		}
		if final.find("LABEL", func(a string) bool { return strings.Contains(a, "org.opencontainers.image.source=") }) < 0 {
			t.Error("the final stage has no OCI labels")
		}
	})
}

// TestDockerignore checks that .dockerignore keeps out what it should and
// keeps in everything ./cmd/sidecar is built from. Patterns are matched as
// Docker does for the forms used here (a path, "*" globs, a leading "**/",
// "!" exceptions; a match on a directory excludes what it holds).
func TestDockerignore(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, p := range []string{".git/HEAD", "node_modules/x/index.js", "e2e/node_modules/botbuilder/package.json", "data/references.db", "sidecar", "store/store.test"} {
		if !ignored(patterns, p) {
			t.Errorf(".dockerignore keeps %s", p)
		}
	}
	needed := []string{"go.mod", "go.sum"}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// deploy/ is a module of its own: the product's packages are listed
	// from the product module's root, the image's build context.
	list := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`, "./cmd/sidecar")
	list.Dir = root
	var stderr strings.Builder
	list.Stderr = &stderr
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields[1:] {
			needed = append(needed, filepath.ToSlash(filepath.Join(dir, f)))
		}
	}
	if len(needed) < 5 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, p := range needed {
		if ignored(patterns, p) {
			t.Errorf(".dockerignore excludes %s, which the image's go build needs", p)
		}
	}
}

// ignored reports whether the path (slash-separated, relative to the
// context) is excluded; the last matching pattern decides.
func ignored(patterns []string, path string) bool {
	excluded := false
	for _, p := range patterns {
		negate := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		for q := path; q != "." && q != ""; q = filepath.Dir(q) {
			if globMatch(p, q) {
				excluded = !negate
				break
			}
		}
	}
	return excluded
}

func globMatch(pattern, name string) bool {
	if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
		for {
			if ok, _ := filepath.Match(rest, name); ok {
				return true
			}
			_, after, found := strings.Cut(name, "/")
			if !found {
				return false
			}
			name = after
		}
	}
	ok, _ := filepath.Match(pattern, name)
	return ok
}

// TestImageBinary builds ./cmd/sidecar with the Dockerfile's own command,
// then checks it is static and runs as the image's user.
func TestImageBinary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the binary as uid 65532 and so must run as root (as CI and the project's machines do); run deploy's tests (cd deploy && go test ./...) as root")
	}
	t.Parallel()
	dir := nonrootTempDir(t)
	bin := buildAsDockerfile(t, dir)

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary has a PT_INTERP program header: it needs a dynamic loader, which distroless/static lacks")
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			t.Fatal(err)
		}
		if len(libs) > 0 {
			t.Errorf("the binary needs shared libraries %v (DT_NEEDED)", libs)
		}
	})

	t.Run("version as nonroot", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "version")
		cmd.Env = []string{} // distroless sets almost nothing
		cmd.SysProcAttr = asNonroot()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s version as %d: %v", bin, nonroot, err)
		}
		if got := strings.TrimSpace(string(out)); got != version {
			t.Errorf("sidecar version = %q; want %q (stamped with -X main.version)", got, version)
		}
	})

	t.Run("serves as nonroot in the image's working directory", func(t *testing.T) {
		serveAsImage(t, bin, dir)
	})
}

// nonrootTempDir returns a t.TempDir() that uid 65532 can traverse and
// read (testing creates it, and its parent, for root only).
func nonrootTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func asNonroot() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
}

// buildAsDockerfile runs the Dockerfile's `go build` line: its variable
// assignments become the environment, ${VERSION} is e2e-test, ${TARGETOS}
// and ${TARGETARCH} are this machine's, and -o points into dir.
func buildAsDockerfile(t *testing.T, dir string) string {
	t.Helper()
	run := buildCommand(t, parseDockerfile(t, filepath.Join("..", "Dockerfile"))[0])
	words, err := shellWords(run.args)
	if err != nil {
		t.Fatalf("Dockerfile:%d: %v", run.line, err)
	}
	vars := map[string]string{"VERSION": version, "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH}
	// The context has no .git (.dockerignore), so the image's build
	// stamps no VCS information; neither does this one.
	env := append(os.Environ(), "GOFLAGS=-buildvcs=false")
	for i := range words {
		words[i] = os.Expand(words[i], func(k string) string { return vars[k] })
	}
	for len(words) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[0]) {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("Dockerfile:%d: the RUN line runs %v; want go build", run.line, words)
	}
	bin := filepath.Join(dir, "sidecar")
	o := slices.Index(words, "-o")
	if o < 0 || o+1 >= len(words) {
		t.Fatalf("Dockerfile:%d: go build has no -o", run.line)
	}
	words[o+1] = bin
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", words[1:]...)
	cmd.Dir = ".." // the module root, the image's build context
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(words[1:], " "), err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// shellWords splits a RUN line as sh would for the quoting it uses:
// blanks separate words; double and single quotes group.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
		case r == '&' || r == '|' || r == ';' || r == '\\':
			return nil, fmt.Errorf("the go build line uses %q; keep it one plain command", r)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unbalanced quote")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// serveAsImage runs the sidecar as the image does: uid and gid 65532, in a
// working directory like /var/lib/sidecar (owned by 65532, with data/), no
// SIDECAR_STORE so that the bolt default ./data/references.db applies, and
// the client secret in a file readable through the group only, as the
// chart mounts it. It checks /healthz, that the bolt file was created, and
// that SIGTERM ends the process with status 0.
func serveAsImage(t *testing.T, bin, dir string) {
	workdir := filepath.Join(dir, "var-lib-sidecar")
	for _, d := range []string{workdir, filepath.Join(workdir, "data")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nonroot, nonroot); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secret, []byte("not-a-real-secret"), 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(secret, 0, nonroot); err != nil {
		t.Fatal(err)
	}
	addrs := freeAddrs(t, 5)
	admin := addrs[0]
	cmd := exec.Command(bin)
	cmd.Dir = workdir
	cmd.SysProcAttr = asNonroot()
	cmd.Env = []string{
		"MicrosoftAppId=11111111-2222-3333-4444-555555555555",
		"MicrosoftAppTenantId=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"SIDECAR_CLIENT_SECRET_FILE=" + secret,
		// Loopback endpoints nothing listens on: no token is acquired
		// and nothing leaves the machine. (MSAL takes https authorities
		// only, even on loopback.)
		"SIDECAR_AUTHORITY_HOST=https://" + addrs[1],
		"SIDECAR_OPENID_METADATA_URL=http://" + addrs[2] + "/openidconfiguration",
		"SIDECAR_INBOUND_ADDR=" + addrs[3],
		"SIDECAR_OUTBOUND_ADDR=" + addrs[4],
		"SIDECAR_ADMIN_ADDR=" + admin,
		"SIDECAR_SHUTDOWN_GRACE=5s",
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("sidecar stderr:\n%s", stderr.String())
		}
	}()

	healthy := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !healthy; {
		select {
		case err := <-done:
			exited = true
			t.Fatalf("the sidecar exited at start-up: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			healthy = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	if !healthy {
		t.Fatal("/healthz did not answer 200 within 20 s")
	}
	info, err := os.Stat(filepath.Join(workdir, "data", "references.db"))
	if err != nil {
		t.Fatalf("the default bolt store: %v", err)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || st.Uid != nonroot {
		t.Errorf("data/references.db is not owned by %d", nonroot)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("after SIGTERM with nothing in flight: %v; want exit status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("the sidecar did not exit within 15 s of SIGTERM")
	}
}

// freeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago (all are held open together, so none repeats).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}
