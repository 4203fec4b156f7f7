package egress

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// state is one loaded generation of policy: the routes, the secret values
// they inject and a DLP scanner that knows those values. It is replaced
// whole on reload and never modified.
type state struct {
	routes  *contract.RoutesFile
	secrets map[string]secret // by secret name
	values  [][]byte          // every secret value, longest first
	redact  *dlp.Redactor     // finds them, encoded too, in responses
	scanner *dlp.Scanner
}

// secret is a credential value. Its LogValue never shows the value.
type secret struct {
	name  string
	value []byte
}

// LogValue implements slog.LogValuer: only the name is ever logged.
func (s secret) LogValue() slog.Value { return slog.StringValue("secret:" + s.name) }

// loadState reads the routes file and every secret it names. Any problem
// is an error, so a reload with a broken file keeps the old state.
//
// The file's dlp settings apply here: enabled: false turns the gitleaks
// rules off, and action: log makes their findings log lines instead of
// refusals. Neither applies to the credentials egress holds: a request
// carrying one is always refused, since letting the injected credential
// out is never a matter of policy.
func loadState(routesPath, secretsDir string, log *slog.Logger) (*state, error) {
	data, err := os.ReadFile(routesPath)
	if err != nil {
		return nil, fmt.Errorf("read routes file: %w", err)
	}
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		return nil, fmt.Errorf("routes file %s: %w", routesPath, err)
	}
	st := &state{routes: rf, secrets: map[string]secret{}}
	for _, r := range rf.Routes {
		if r.Auth == nil {
			continue
		}
		name := r.Auth.Secret
		if _, ok := st.secrets[name]; ok {
			continue
		}
		v, err := os.ReadFile(filepath.Join(secretsDir, name))
		if err != nil {
			return nil, fmt.Errorf("route %s: read secret %q: %w", r.Host, name, unwrapPath(err))
		}
		v = trimNewline(v)
		if len(v) == 0 {
			return nil, fmt.Errorf("route %s: secret %q is empty", r.Host, name)
		}
		if !validHeaderValue(v) {
			return nil, fmt.Errorf("route %s: secret %q holds characters a header cannot carry (newline, control)", r.Host, name)
		}
		st.secrets[name] = secret{name: name, value: v}
	}
	st.values = st.secretValues()
	st.redact = dlp.NewRedactor(st.values)
	held := make(map[string][]byte, len(st.secrets))
	for name, s := range st.secrets {
		held[name] = s.value
	}
	opts := dlp.Options{Secrets: held}
	if !rf.DLP.IsEnabled() {
		opts.RuleIDs = []string{}
	}
	if rf.DLP.EffectiveAction() == contract.DLPLog {
		opts.Observe = func(f dlp.Finding) {
			log.Warn("dlp finding forwarded (routes file dlp.action: log)", "rule", f.RuleID)
		}
	}
	if st.scanner, err = dlp.New(opts); err != nil {
		return nil, err
	}
	return st, nil
}

// secretValues returns every secret value, longest first (so a scrubber
// replaces a token before any shorter token inside it).
func (st *state) secretValues() [][]byte {
	out := make([][]byte, 0, len(st.secrets))
	for _, s := range st.secrets {
		out = append(out, s.value)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func validHeaderValue(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
