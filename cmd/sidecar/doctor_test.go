package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
)

type doctorEnv struct {
	entra   *fakes.Entra
	channel *fakes.Channel
	bot     *httptest.Server
	env     map[string]string
}

func newDoctorEnv(t *testing.T) *doctorEnv {
	t.Helper()
	d := &doctorEnv{
		entra:   fakes.NewEntra(fakes.EntraOptions{ClientSecret: itSecret}),
		channel: fakes.NewChannel(fakes.ChannelOptions{}),
		bot:     httptest.NewServer(http.NotFoundHandler()),
	}
	t.Cleanup(d.entra.Close)
	t.Cleanup(d.channel.Close)
	t.Cleanup(d.bot.Close)
	d.env = map[string]string{
		"MicrosoftAppId":              itAppID,
		"MicrosoftAppPassword":        itSecret,
		"MicrosoftAppTenantId":        itTenant,
		"SIDECAR_AUTHORITY_HOST":      d.entra.URL,
		"SIDECAR_OPENID_METADATA_URL": d.channel.MetadataURL(),
		"SIDECAR_CHANNEL_ISSUER":      d.channel.Issuer(),
		"SIDECAR_BOT_URL":             d.bot.URL + "/api/messages",
		"SIDECAR_STORE":               "bolt:" + filepath.Join(t.TempDir(), "refs.db"),
	}
	return d
}

func (d *doctorEnv) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var environ []string
	for k, v := range d.env {
		environ = append(environ, k+"="+v)
	}
	var out, errOut bytes.Buffer
	err := runDoctor(context.Background(), args, environ, &out, &errOut,
		deps{entraClient: d.entra.Client(), openID: d.channel.Client()})
	if strings.Contains(out.String()+errOut.String(), itSecret) {
		t.Error("doctor printed the secret")
	}
	for _, tok := range d.entra.Issued() {
		if strings.Contains(out.String(), tok) {
			t.Error("doctor printed a token")
		}
	}
	return out.String(), err
}

func TestDoctorGreen(t *testing.T) {
	t.Parallel()
	d := newDoctorEnv(t)
	out, err := d.run(t)
	if err != nil {
		t.Fatalf("doctor = %v\n%s", err, out)
	}
	for _, want := range []string{
		"ok   config", "ok   token", "aud=https://api.botframework.com (want https://api.botframework.com), app=" + itAppID + " (want " + itAppID + "), tid=" + itTenant + " (want " + itTenant + ")",
		"ok   openid", "endorsed for msteams", "ok   store", "ok   bot",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorEachCheckBroken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		breakIt   func(d *doctorEnv)
		wantFail  string
		wantInFix string
	}{
		{"config", func(d *doctorEnv) { delete(d.env, "MicrosoftAppTenantId") }, "FAIL config", "MicrosoftAppTenantId"},
		{"wrong secret", func(d *doctorEnv) { d.env["MicrosoftAppPassword"] = "wrong" }, "FAIL token", "client secret is wrong or expired"},
		{"wrong scope", func(d *doctorEnv) { d.env["SIDECAR_TOKEN_SCOPE"] = "https://graph.microsoft.com/.default" }, "FAIL token", "wrong audience"},
		{"metadata down", func(d *doctorEnv) { d.channel.SetFailing(true) }, "FAIL openid", "SIDECAR_OPENID_METADATA_URL"},
		{"store unusable", func(d *doctorEnv) { d.env["SIDECAR_STORE"] = "bolt:/proc/no/such/dir/refs.db" }, "FAIL store", "SIDECAR_STORE"},
		{"bot down", func(d *doctorEnv) { d.bot.Close() }, "FAIL bot", "SIDECAR_BOT_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDoctorEnv(t)
			tt.breakIt(d)
			out, err := d.run(t)
			if err == nil {
				t.Fatalf("doctor = nil error; want a failure\n%s", out)
			}
			if !strings.Contains(out, tt.wantFail) || !strings.Contains(out, tt.wantInFix) {
				t.Errorf("report lacks %q / %q:\n%s", tt.wantFail, tt.wantInFix, out)
			}
			if strings.Count(out, "FAIL") != 1 {
				t.Errorf("want exactly one failed check:\n%s", out)
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	t.Parallel()
	d := newDoctorEnv(t)
	d.bot.Close()
	out, err := d.run(t, "--json")
	if err == nil {
		t.Fatal("doctor --json with the bot down = nil error")
	}
	var report struct {
		OK     bool
		Checks []check
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if report.OK || len(report.Checks) != 6 || report.Checks[4].Name != "bot" || report.Checks[4].OK || report.Checks[1].Name != "token" || !report.Checks[1].OK ||
		report.Checks[5].Name != "tracing" || !report.Checks[5].OK {
		t.Errorf("report = %+v", report)
	}
}

// A bolt file that a running sidecar holds is not a failure: doctor knows
// the lock by store.ErrLocked, not by the error's wording.
func TestDoctorStoreHeldByRunningSidecar(t *testing.T) {
	t.Parallel()
	d := newDoctorEnv(t)
	spec, err := store.ParseSpec(d.env["SIDECAR_STORE"])
	if err != nil {
		t.Fatal(err)
	}
	held, err := backends.Open(t.Context(), spec, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	out, err := d.run(t)
	if err != nil || !strings.Contains(out, "ok   store") || !strings.Contains(out, "in use by a running sidecar") {
		t.Errorf("doctor with the store held = %v; want ok store, in use:\n%s", err, out)
	}
}
