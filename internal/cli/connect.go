package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/client"
)

// connection flags, shared by every verb that talks to a manager.
type connFlags struct {
	server, token, caFile, config string
	insecure                      bool
}

func (conn *connFlags) add(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&conn.config, "config", "", "client configuration file (default: $KORDON_CONFIG, ~/.config/kordon/config.yaml, ./kordon-data/client.yaml)")
	f.StringVar(&conn.server, "server", "", "manager URL, overriding the configuration")
	f.StringVar(&conn.token, "token", "", "API token, overriding the configuration")
	f.StringVar(&conn.caFile, "ca-file", "", "PEM file of the manager's CA, overriding the configuration")
	f.BoolVar(&conn.insecure, "insecure-skip-verify", false, "do not verify the manager's certificate (testing only)")
}

// connect returns a client from the configuration and flags.
func (conn *connFlags) connect() (*client.Client, error) {
	var cfg client.Config
	var err error
	switch {
	case conn.config != "":
		cfg, err = client.ReadConfig(conn.config)
	case conn.server != "" && conn.token != "":
	default:
		cfg, _, err = client.LoadConfig()
	}
	if err != nil {
		return nil, failf(2, "%v", err)
	}
	if conn.server != "" {
		cfg.Server = conn.server
	}
	if conn.token != "" {
		cfg.Token = conn.token
	}
	if conn.caFile != "" {
		b, err := os.ReadFile(conn.caFile)
		if err != nil {
			return nil, failf(2, "--ca-file: %v", err)
		}
		cfg.CA = string(b)
	}
	if conn.insecure {
		cfg.InsecureSkipVerify = true
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, failf(2, "%v", err)
	}
	return c, nil
}
