package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/cmdutil"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

func newValidateCmd() *cobra.Command {
	var policies []string
	var dir, format string
	cmd := &cobra.Command{
		Use:   "validate --policy FILE [--inventory DIR]",
		Short: "Check a policy document (and an inventory dump) without applying anything",
		Long: `validate decodes the policy files (JSON or YAML, hierarchical Infra documents
or single objects, as NSX exports them) and checks every rule of NSX's group
criteria composition and of DFW and gateway firewall policies. Every problem
is printed with the object path, the field and the reason. It exits 0 when
the policy is valid and the inventory (if given) holds no malformed object.`,
		Example: `  kordon validate --policy examples/policy.yaml --inventory examples/inventory`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, errs, err := loadPolicy(policies)
			if err != nil {
				return err
			}
			var dump *inventory.Dump
			if dir != "" {
				d, err := inventory.LoadDir(dir)
				if err != nil {
					return failf(2, "%v", err)
				}
				dump = d
			}
			return reportValidation(cmd, format, cfg, errs, dump)
		},
	}
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policy file (repeatable; applied in order)")
	cmd.Flags().StringVar(&dir, "inventory", "", "inventory directory: DIR/<cluster>/*.yaml|json as kubectl prints them")
	outputFlag(cmd, &format)
	return cmd
}

type validationReport struct {
	Valid     bool                `json:"valid"`
	Errors    model.Errors        `json:"errors"`
	Inventory []inventory.Problem `json:"inventory_problems"`
	Counts    map[string]int      `json:"counts,omitempty"`
	// Ignored counts the dump's objects of kinds kordon does not keep,
	// per file.
	Ignored      int                     `json:"ignored_objects,omitempty"`
	IgnoredFiles []inventory.IgnoredFile `json:"ignored_files,omitempty"`
}

func reportValidation(cmd *cobra.Command, format string, cfg *model.Config, errs model.Errors, dump *inventory.Dump) error {
	var problems []inventory.Problem
	if dump != nil {
		problems = dump.Problems
	}
	rep := validationReport{Valid: len(errs) == 0 && len(problems) == 0, Errors: errs, Inventory: problems}
	if dump != nil {
		rep.Ignored, rep.IgnoredFiles = dump.Ignored, dump.IgnoredFiles
	}
	if rep.Errors == nil {
		rep.Errors = model.Errors{}
	}
	if rep.Inventory == nil {
		rep.Inventory = []inventory.Problem{}
	}
	if cfg != nil {
		rep.Counts = map[string]int{"groups": len(cfg.Groups), "services": len(cfg.Services), "security_policies": len(cfg.SecurityPolicies),
			"gateway_policies": len(cfg.GatewayPolicies), "rules": len(cfg.Rules), "tier0s": len(cfg.Tier0s), "tier1s": len(cfg.Tier1s)}
	}
	out := cmd.OutOrStdout()
	done, err := printStructured(out, format, rep)
	if err != nil {
		return err
	}
	if !done {
		// A problem may quote the file it is about (a tenant's policy, a
		// cluster's dump): one line each.
		for _, e := range errs {
			fmt.Fprintln(out, oneLine(e.Error()))
		}
		for _, p := range problems {
			fmt.Fprintln(out, "inventory:", oneLine(p.String()))
		}
		if dump != nil && dump.Ignored > 0 {
			fmt.Fprintln(out, "note:", ignoredSummary(dump))
		}
		if rep.Valid {
			fmt.Fprintf(out, "valid: %s, %s, %s, %s\n", plural(len(cfg.Groups), "group"), plural(len(cfg.Services), "service"),
				plural(len(cfg.SecurityPolicies)+len(cfg.GatewayPolicies), "policy"), plural(len(cfg.Rules), "rule"))
		}
	}
	if !rep.Valid {
		return &cmdutil.ExitError{Code: 1, Err: fmt.Errorf("%s, %s", plural(len(errs), "policy problem"), plural(len(problems), "inventory problem"))}
	}
	return nil
}
