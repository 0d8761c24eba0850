package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/license"
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
		Use:     "sign --key FILE --id ID --licensee NAME --features DFW,GFW --expires YYYY-MM-DD",
		Short:   "Sign a license; the document is written to standard output",
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
			if l.Expires, err = time.Parse("2006-01-02", expires); err != nil {
				return failf(2, "--expires: %v", err)
			}
			l.NotBefore = time.Now().UTC().Truncate(time.Second)
			if notBefore != "" {
				if l.NotBefore, err = time.Parse("2006-01-02", notBefore); err != nil {
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
	cmd.Flags().StringVar(&expires, "expires", "", "last day (YYYY-MM-DD, UTC) the license is valid before")
	cmd.Flags().StringVar(&notBefore, "not-before", "", "first day it is valid (default: now)")
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
			fmt.Fprintf(cmd.OutOrStdout(), "installed; active features: %v\n", st["active_features"])
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
				fmt.Fprintf(w, "no valid license installed %s\n", st.Error)
				return nil
			}
			l := st.License
			kind := ""
			if l.Evaluation {
				kind = " (evaluation)"
			}
			fmt.Fprintf(w, "license   %s%s for %s\nfeatures  %s (active now: %s)\nvalid     %s to %s\nsigned by key %s\n",
				l.ID, kind, l.Licensee, strings.Join(l.Features, ", "), strings.Join(st.Active, ", "),
				l.NotBefore.Format("2006-01-02"), l.Expires.Format("2006-01-02"), l.KeyID)
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newProjectCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Create, list and delete projects (tenant spaces)"}
	var name string
	create := &cobra.Command{
		Use:  "create ID",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			body := map[string]any{"id": args[0], "display_name": name}
			if err := c.Do(cmd.Context(), http.MethodPut, "/policy/api/v1/orgs/default/projects/"+args[0], body, nil); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "project %s: its objects live under /orgs/default/projects/%s/infra\n", args[0], args[0])
			return nil
		},
	}
	create.Flags().StringVar(&name, "display-name", "", "display name")
	list := &cobra.Command{
		Use:  "list",
		Args: cobra.NoArgs,
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
			for _, r := range results {
				p, _ := r.(map[string]any)
				fmt.Fprintf(cmd.OutOrStdout(), "%v\t%v\n", p["id"], p["display_name"])
			}
			return nil
		},
	}
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

func newTokenCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create API tokens (admin, or reader for dashboards and external dynamic lists)"}
	var role, desc string
	create := &cobra.Command{
		Use:  "create ID --role admin|reader",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out map[string]string
			if err := c.Do(cmd.Context(), http.MethodPost, "/policy/api/v1/kordon/tokens", map[string]string{"id": args[0], "role": role, "description": desc}, &out); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s (%s), shown once:\n%s\n", args[0], role, out["token"])
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "reader", "admin or reader")
	create.Flags().StringVar(&desc, "description", "", "what the token is for")
	cmd.AddCommand(create)
	return cmd
}
