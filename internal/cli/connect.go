package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/cmdutil"
)

// connection flags, shared by every verb that talks to a manager.
type connFlags struct {
	server, token, caFile, config string
	insecure                      bool
	// source says where the configuration of the last connect came from
	// (a file, or the flags), for errors that depend on it.
	source string
}

// configHelp states which client configuration a command uses.
const configHelp = "client configuration file (default: the first of $KORDON_CONFIG, ./kordon-data/client.yaml, ~/.config/kordon/config.yaml)"

func (conn *connFlags) add(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&conn.config, "config", "", configHelp)
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
		conn.source = conn.config
		cfg, err = client.ReadConfig(conn.config)
		if err != nil {
			err = fmt.Errorf("--config: %w", err)
		}
	case conn.server != "" && conn.token != "":
		conn.source = "the --server and --token flags"
	default:
		cfg, conn.source, err = client.LoadConfig()
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
		return nil, failf(2, "%s: %v", conn.sourceName(), err)
	}
	return c, nil
}

// sourceName names where the configuration came from, and what flags
// changed in it.
func (conn *connFlags) sourceName() string {
	s := conn.source
	if s == client.DataDirConfig {
		s = "./" + s
	}
	if conn.config == "" && conn.server != "" && conn.token != "" {
		return s
	}
	var over []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"--server", conn.server != ""}, {"--token", conn.token != ""}, {"--ca-file", conn.caFile != ""}, {"--insecure-skip-verify", conn.insecure}} {
		if f.set {
			over = append(over, f.name)
		}
	}
	if len(over) > 0 {
		s += " with " + strings.Join(over, ", ")
	}
	return s
}

// withSource adds to an error that comes from reaching the manager or
// from authenticating to it which client configuration was used: a
// command that reads a file the user did not expect fails there.
func (conn *connFlags) withSource(err error) error {
	if err == nil || conn.source == "" {
		return err
	}
	var ce *client.Error
	var ue *url.Error
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusUnauthorized:
	case errors.As(err, &ue):
	default:
		return err
	}
	hint := fmt.Sprintf("(client configuration: %s; --config FILE uses another)", conn.sourceName())
	if conn.config == "" && conn.server != "" && conn.token != "" {
		hint = "(the manager and the token came from --server and --token)"
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitCode(err), Err: fmt.Errorf("%w\n%s", err, hint)}
}

// wrapErrors makes every command of the tree report its connection's
// configuration when reaching or authenticating to the manager fails.
func (conn *connFlags) wrapErrors(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error { return conn.withSource(run(c, args)) }
	}
	for _, sub := range cmd.Commands() {
		conn.wrapErrors(sub)
	}
}
