package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
)

func newLicenseCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "license",
		Short: "Create signing keys, sign, install and show licenses (DFW and GFW entitlements)",
		Long: `A license is a JSON document granting features (DFW: distributed firewall,
GFW: gateway firewall) until an expiry, signed with an Ed25519 key. A manager
accepts licenses signed by the keys it trusts (--license-trust on kordon serve),
besides the evaluation license a new installation starts with.`,
	}
	cmd.AddCommand(newLicenseKeygenCmd(), newLicenseSignCmd(), newLicenseInstallCmd(conn), newLicenseShowCmd(conn))
	return cmd
}

func newLicenseKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen PREFIX",
		Short: "Create a signing key pair: PREFIX.key (keep it safe) and PREFIX.pub (give it to managers)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, priv, err := license.GenerateKey()
			if err != nil {
				return err
			}
			if err := os.WriteFile(args[0]+".key", license.MarshalPrivateKey(priv), 0o600); err != nil {
				return failf(1, "%v", err)
			}
			if err := os.WriteFile(args[0]+".pub", license.MarshalPublicKey(pub), 0o644); err != nil {
				return failf(1, "%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key and %s.pub (key id %s)\n", args[0], args[0], license.KeyID(pub))
			return nil
		},
	}
}

func newLicenseSignCmd() *cobra.Command {
	var l license.License
	var key, features, expires, notBefore string
	cmd := &cobra.Command{
		Use:   "sign --key FILE --id ID --licensee NAME --features DFW,GFW --expires YYYY-MM-DD",
		Short: "Sign a license; the document is written to standard output",
		Long: `sign writes a signed license to standard output. A date given to --expires is
the last day the license is valid: it expires at the start of the next day
(00:00:00 UTC), so --expires 2027-12-31 is valid through 31 December 2027.`,
		Example: `  kordon license sign --key vendor.key --id acme-2027 --licensee ACME --features DFW,GFW --expires 2027-12-31 > acme.lic`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := os.ReadFile(key)
			if err != nil {
				return failf(2, "--key: %v", err)
			}
			priv, err := license.ParsePrivateKey(b)
			if err != nil {
				return failf(2, "--key %s: %v", key, err)
			}
			l.Features = strings.Split(strings.ToUpper(features), ",")
			if expires == "" {
				return failf(2, "--expires is required")
			}
			if l.Expires, err = parseTime(expires, true); err != nil {
				return failf(2, "--expires: %v", err)
			}
			l.NotBefore = time.Now().UTC().Truncate(time.Second)
			if notBefore != "" {
				if l.NotBefore, err = parseTime(notBefore, false); err != nil {
					return failf(2, "--not-before: %v", err)
				}
			}
			signed, err := license.Sign(l, priv)
			if err != nil {
				return failf(2, "%v", err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(signed)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "signing key (from license keygen)")
	cmd.Flags().StringVar(&l.ID, "id", "", "license id")
	cmd.Flags().StringVar(&l.Licensee, "licensee", "", "who the license is for")
	cmd.Flags().StringVar(&features, "features", "DFW,GFW", "features to grant: DFW, GFW")
	cmd.Flags().StringVar(&expires, "expires", "", "last day the license is valid (YYYY-MM-DD, UTC: valid through the end of that day, so it expires at 00:00:00 UTC the next day), or the RFC 3339 time it expires at")
	cmd.Flags().StringVar(&notBefore, "not-before", "", "first day it is valid (YYYY-MM-DD, UTC: from the start of that day), or an RFC 3339 time (default: now)")
	return cmd
}

func newLicenseInstallCmd(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "install FILE",
		Short: "Install a signed license on the manager",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput(args[0])
			if err != nil {
				return failf(2, "%v", err)
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var st map[string]any
			if err := c.Do(cmd.Context(), http.MethodPut, "/policy/api/v1/kordon/license", b, &st); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed; active features: %s\n", oneLine(fmt.Sprint(st["active_features"])))
			return nil
		},
	}
}

func newLicenseShowCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the installed license",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var st struct {
				License *license.License `json:"license"`
				Valid   bool             `json:"valid"`
				Error   string           `json:"error"`
				Active  []string         `json:"active_features"`
			}
			if err := c.Do(cmd.Context(), http.MethodGet, "/policy/api/v1/kordon/license", nil, &st); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, st); err != nil || done {
				return err
			}
			w := cmd.OutOrStdout()
			if st.License == nil {
				fmt.Fprintf(w, "no valid license installed %s\n", oneLine(st.Error))
				return nil
			}
			l := st.License
			kind := ""
			if l.Evaluation {
				kind = " (evaluation)"
			}
			fmt.Fprintf(w, "license   %s%s for %s\nfeatures  %s (active now: %s)\nvalid     from %s until %s\nsigned by key %s\n",
				oneLine(l.ID), kind, oneLine(l.Licensee), oneLine(strings.Join(l.Features, ", ")), oneLine(strings.Join(st.Active, ", ")),
				l.NotBefore.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339), oneLine(l.KeyID))
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

// str is a loosely decoded string value, "" when absent.
func str(v any) string {
	s, _ := v.(string)
	return s
}

func newProjectCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Create, list and delete projects (tenant spaces)"}
	var name string
	var tier0s []string
	create := &cobra.Command{
		Use:   "create ID [--tier-0 /infra/tier-0s/T0 ...]",
		Short: "Create (or replace) a project; --tier-0 grants it a provider tier-0 its tier-1s may connect to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			body := map[string]any{"id": args[0], "display_name": name}
			if len(tier0s) > 0 {
				body["tier_0s"] = tier0s
			}
			if err := c.Do(cmd.Context(), http.MethodPut, "/policy/api/v1/orgs/default/projects/"+args[0], body, nil); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %s: its objects live under /orgs/default/projects/%s/infra\n", args[0], args[0])
			return nil
		},
	}
	create.Flags().StringVar(&name, "display-name", "", "display name")
	create.Flags().StringArrayVar(&tier0s, "tier-0", nil, "a provider tier-0 path the project's tier-1s may connect to (repeatable; replaces the project's grants)")
	var listFormat string
	list := &cobra.Command{
		Use:   "list",
		Short: "List projects: id, display name, path and the tier-0s granted to them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var raw map[string]any
			if err := getAll(cmd.Context(), c, "/policy/api/v1/orgs/default/projects", &raw); err != nil {
				return remoteErr(err)
			}
			results, _ := raw["results"].([]any)
			if results == nil {
				results = []any{}
			}
			if done, err := printStructured(cmd.OutOrStdout(), listFormat, results); err != nil || done {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDISPLAY NAME\tPATH\tTIER-0S")
			for _, r := range results {
				p, _ := r.(map[string]any)
				var t0s []string
				if l, ok := p["tier_0s"].([]any); ok {
					for _, t := range l {
						t0s = append(t0s, fmt.Sprint(t))
					}
				}
				path, _ := p["path"].(string)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(fmt.Sprint(p["id"])), orNone(oneLine(str(p["display_name"]))),
					orNone(oneLine(path)), orNone(oneLine(strings.Join(t0s, ", "))))
			}
			return tw.Flush()
		},
	}
	outputFlag(list, &listFormat)
	del := &cobra.Command{
		Use:  "delete ID",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, "/policy/api/v1/orgs/default/projects/"+args[0], nil, nil); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

const tokensAPI = "/policy/api/v1/kordon/tokens"

func newTokenCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "API tokens: create (admin, reader, project-admin, project-reader), list, revoke",
		Long: `Tokens authenticate people and programs. admin and reader act on the whole
installation; project-admin and project-reader on one project (--project) and
nothing else. A token may expire (--expires); any token can be revoked at once.
The manager stores only a hash of each token: it is shown once, when created.`,
	}
	cmd.AddCommand(newTokenCreateCmd(conn), newTokenListCmd(conn), newTokenRevokeCmd(conn))
	return cmd
}

func newTokenCreateCmd(conn *connFlags) *cobra.Command {
	var role, desc, project, expires, out, format string
	cmd := &cobra.Command{
		Use:   "create ID --role admin|reader|project-admin|project-reader [--project P] [--expires 720h|2027-06-30T00:00:00Z] [--out FILE]",
		Short: "Create a token; it is shown once (or written to --out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]any{"id": args[0], "role": role, "description": desc, "project": project}
			if expires != "" {
				t, err := parseExpiry(expires, time.Now())
				if err != nil {
					return failf(2, "--expires: %v", err)
				}
				req["expires"] = t
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var res struct {
				manager.TokenInfo
				Token string `json:"token,omitempty"`
				// File is where --out wrote the token (then not shown).
				File string `json:"token_file,omitempty"`
			}
			if err := c.Do(cmd.Context(), http.MethodPost, tokensAPI, req, &res); err != nil {
				return remoteErr(err)
			}
			w := cmd.OutOrStdout()
			if out != "" {
				if err := os.WriteFile(out, []byte(res.Token+"\n"), 0o600); err != nil {
					return failf(1, "--out: %v", err)
				}
				res.Token, res.File = "", out // in the file only
			}
			if done, err := printStructured(w, format, res); err != nil || done {
				return err
			}
			scope := oneLine(string(res.Role))
			if res.Project != "" {
				scope += " of project " + oneLine(res.Project)
			}
			if !res.Expires.IsZero() {
				scope += ", expires " + res.Expires.Format(time.RFC3339)
			}
			if out != "" {
				fmt.Fprintf(w, "token %s (%s) written to %s\n", oneLine(res.ID), scope, out)
				return nil
			}
			fmt.Fprintf(w, "token %s (%s), shown once:\n%s\n", oneLine(res.ID), scope, oneLine(res.Token))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "reader", "admin, reader, project-admin or project-reader")
	f.StringVar(&project, "project", "", "the project a project-admin or project-reader token is confined to")
	f.StringVar(&expires, "expires", "", "when the token stops working: a duration from now (720h), a time (RFC 3339), or a date (YYYY-MM-DD, UTC: the token works through that day)")
	f.StringVar(&desc, "description", "", "what the token is for")
	f.StringVar(&out, "out", "", "write the token to this file (mode 0600) instead of printing it")
	outputFlag(cmd, &format)
	return cmd
}

// parseExpiry reads --expires: a duration from now, an RFC 3339 time, or
// a date, which means the end of that day (UTC): the token expires at the
// start of the next day.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%s is not in the future", s)
		}
		return now.Add(d).UTC(), nil
	}
	if t, err := parseDay(s, true); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (720h), an RFC 3339 time (2027-06-30T00:00:00Z) nor a date (2027-06-30)", s)
	}
	return t, nil
}

// parseDay reads a date (YYYY-MM-DD, UTC) as its first instant or, with
// end, as the instant after its last: the start of the next day, the
// first moment something valid "until" that date no longer is.
func parseDay(s string, end bool) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, err
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// parseTime reads a date (see parseDay) or an RFC 3339 time.
func parseTime(s string, end bool) (time.Time, error) {
	if t, err := parseDay(s, end); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither a date (2027-12-31) nor an RFC 3339 time (2027-12-31T12:00:00Z)", s)
	}
	return t.UTC(), nil
}

func newTokenListCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens: role, project, expiry and last use (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var res struct {
				Results []manager.TokenInfo `json:"results"`
			}
			if err := c.Do(cmd.Context(), http.MethodGet, tokensAPI+"?page_size=1000", nil, &res); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, res.Results); err != nil || done {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tPROJECT\tCREATED\tEXPIRES\tLAST USED\tDESCRIPTION")
			for _, t := range res.Results {
				exp := "never"
				if !t.Expires.IsZero() {
					exp = t.Expires.Format(time.RFC3339)
					if t.Expired {
						exp += " (expired)"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(t.ID), oneLine(string(t.Role)), orNone(oneLine(t.Project)), t.Created.Format(time.RFC3339), exp,
					ago(t.LastUsed, now), oneLine(t.Description))
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newTokenRevokeCmd(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: it authenticates nothing from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, tokensAPI+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	}
}

func newSealCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Seal keys: the key that encrypts the CA's private key in the store",
		Long: `The CA's private key is stored sealed (AES-256-GCM) with a seal key that lives
in a file beside the manager (DATA-DIR/seal.key by default), never in the store.
Every manager of an installation needs it. To rotate it:

  kordon seal keygen new-seal.key
  kordon serve --seal-key new-seal.key --seal-key DATA-DIR/seal.key   # on every manager
    (the first key seals: the CA's key is sealed again with it at start-up)
  kordon serve --seal-key new-seal.key                                # then the old key can go`,
	}
	keygen := &cobra.Command{
		Use:   "keygen FILE",
		Short: "Write a new seal key to FILE (mode 0600)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := pki.NewSealKey()
			if err != nil {
				return failf(1, "%v", err)
			}
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return failf(1, "%v", err)
			}
			if _, err := f.Write(k.Marshal()); err != nil {
				f.Close()
				return failf(1, "%v", err)
			}
			if err := f.Close(); err != nil {
				return failf(1, "%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "seal key %s written to %s\n", k.ID, args[0])
			return nil
		},
	}
	cmd.AddCommand(keygen)
	return cmd
}

// newCACmd prints the installation's CA certificate from a manager's data
// directory: what 'kordon login --ca-file' and other clients trust. It is
// public; the point is to get it out of a place only a shell can read,
// such as a manager's pod (kubectl exec ... kordon ca > ca.crt).
func newCACmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "ca [--data-dir DIR]",
		Short: "Print the installation's CA certificate from a manager's data directory",
		Example: `  kordon ca --data-dir kordon-data > ca.crt
  kubectl -n kordon-system exec kordon-manager-0 -- /kordon ca --data-dir /var/lib/kordon/data > ca.crt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dir, "ca.crt")
			b, err := os.ReadFile(path)
			if err != nil {
				return failf(1, "%v (is %s a manager's data directory?)", err, dir)
			}
			blk, rest := pem.Decode(b)
			if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
				return failf(1, "%s: not one PEM certificate", path)
			}
			if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return failf(1, "%s: %v", path, err)
			}
			_, err = cmd.OutOrStdout().Write(pem.EncodeToMemory(blk))
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "data-dir", client.DefaultDataDir, "the manager's data directory")
	return cmd
}
