package tokencache

import "testing"

func TestCacheSourcePerKey(t *testing.T) {
	t.Parallel()
	base := Options{AuthorityHost: "https://login.microsoftonline.com", Tenant: "tenant-a", ClientID: testApp,
		Scope: "https://api.botframework.com/.default", Credential: Credential{Secret: "x"}}
	c := NewCache()
	first, err := c.Source(base)
	if err != nil {
		t.Fatalf("Source() = %v", err)
	}

	tests := []struct {
		name string
		give func(*Options)
		same bool
	}{
		{"same options", func(o *Options) {}, true},
		{"other credential, same identity", func(o *Options) { o.Credential = Credential{Secret: "y"} }, true},
		{"host and tenant case", func(o *Options) { o.AuthorityHost = "https://LOGIN.microsoftonline.com/"; o.Tenant = "TENANT-A" }, true},
		{"other scope", func(o *Options) { o.Scope = "https://api.botframework.us/.default" }, false},
		{"other tenant", func(o *Options) { o.Tenant = "botframework.com" }, false},
		{"other client", func(o *Options) { o.ClientID = "another-app" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			tt.give(&opts)
			s, err := c.Source(opts)
			if err != nil {
				t.Fatalf("Source() = %v", err)
			}
			if got := s == first; got != tt.same {
				t.Errorf("Source(%s) is the first source = %v; want %v", tt.name, got, tt.same)
			}
			again, _ := c.Source(opts)
			if again != s {
				t.Errorf("Source(%s) twice gave two sources", tt.name)
			}
		})
	}
}

func TestCacheSourceInvalidOptions(t *testing.T) {
	t.Parallel()
	if _, err := NewCache().Source(Options{ClientID: testApp}); err == nil {
		t.Error("Source(no credential) = nil error")
	}
}
