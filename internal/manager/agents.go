package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Agent is an enforcement point: a VM the distributed firewall protects,
// or a host routing for a tier-0 or tier-1 gateway.
//
// What selects a VM into groups (its name, tags, OS name and computer
// name) and the addresses it may claim are the manager's: set at
// registration or by an admin, never by the agent. The agent reports only
// the addresses it has (VM), which the manager checks before they count.
type Agent struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Role    string `json:"role"`
	Gateway string `json:"gateway,omitempty"`
	// Project is the space the enforcement point belongs to ("" for the
	// default space): a VM's project, or the project of a gateway's tier-1.
	Project    string    `json:"project,omitempty"`
	Registered time.Time `json:"registered"`
	CertSerial string    `json:"cert_serial,omitempty"`
	AgentAttributes
	// VM is what a VM's agent last reported about itself.
	VM *wire.VMFacts `json:"vm,omitempty"`
}

// AgentAttributes are what the manager decides about an agent.
type AgentAttributes struct {
	// Tags, OSName and ComputerName select the VM with the VirtualMachine
	// member type.
	Tags         []model.Tag `json:"tags,omitempty"`
	OSName       string      `json:"os_name,omitempty"`
	ComputerName string      `json:"computer_name,omitempty"`
	// AllowedAddresses, when set, are the only addresses (IPs, CIDRs or
	// ranges) the VM may claim, and the addresses in them belong to it:
	// another agent claiming one is refused.
	AllowedAddresses []string `json:"allowed_addresses,omitempty"`
}

// AgentSpec is a registration.
type AgentSpec struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Gateway string `json:"gateway,omitempty"`
	// Project is the project of a VM agent (a gateway agent's is its
	// gateway's).
	Project string `json:"project,omitempty"`
	AgentAttributes
}

// AgentUpdate changes an agent's attributes; nil fields are kept.
type AgentUpdate struct {
	Tags             *[]model.Tag `json:"tags,omitempty"`
	OSName           *string      `json:"os_name,omitempty"`
	ComputerName     *string      `json:"computer_name,omitempty"`
	AllowedAddresses *[]string    `json:"allowed_addresses,omitempty"`
}

// sameFacts compares a VM's facts as they are stored.
func sameFacts(a, b *wire.VMFacts) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func invalidf(f string, a ...any) error {
	return &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf(f, a...)}
}

// checkAttributes validates what an admin sets on an agent.
func checkAttributes(a *AgentAttributes) error {
	if len(a.Tags) > model.MaxTags {
		return invalidf("tags: %d; at most %d", len(a.Tags), model.MaxTags)
	}
	for i, t := range a.Tags {
		if t.Tag == "" && t.Scope == "" {
			return invalidf("tags[%d]: empty", i)
		}
		if err := model.CheckText(t.Scope, model.MaxTagScope, false); err != nil {
			return invalidf("tags[%d].scope: %v", i, err)
		}
		if err := model.CheckText(t.Tag, model.MaxTagValue, false); err != nil {
			return invalidf("tags[%d].tag: %v", i, err)
		}
	}
	if err := model.CheckText(a.OSName, model.MaxTextField, false); err != nil {
		return invalidf("os_name: %v", err)
	}
	if err := model.CheckText(a.ComputerName, model.MaxTextField, false); err != nil {
		return invalidf("computer_name: %v", err)
	}
	if len(a.AllowedAddresses) > wire.MaxVMAddresses {
		return invalidf("allowed_addresses: %d; at most %d", len(a.AllowedAddresses), wire.MaxVMAddresses)
	}
	for i, s := range a.AllowedAddresses {
		if _, err := address.ParseRange(s); err != nil {
			return invalidf("allowed_addresses[%d]: %v", i, err)
		}
	}
	return nil
}

// RegisterAgent creates an enforcement agent and its identity. The key
// is returned, never stored.
func (m *Manager) RegisterAgent(ctx context.Context, spec AgentSpec) (Agent, Credentials, error) {
	fail := func(err error) (Agent, Credentials, error) { return Agent{}, Credentials{}, err }
	if !clusterName.MatchString(spec.Name) {
		return fail(invalidf("agent name %q: use lower-case letters, digits, '-' and '.' (at most 63, starting and ending with a letter or digit)", spec.Name))
	}
	a := Agent{Name: spec.Name, ID: newUUID(), Role: spec.Role, Gateway: spec.Gateway, Registered: m.now().UTC(), AgentAttributes: spec.AgentAttributes}
	switch spec.Role {
	case realization.RoleVM:
		if spec.Gateway != "" {
			return fail(invalidf("role vm: --gateway is for gateway agents"))
		}
		if spec.Project != "" {
			if _, ok := m.Project(spec.Project); !ok {
				return fail(&WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("project %q does not exist", spec.Project)})
			}
		}
		a.Project = spec.Project
	case realization.RoleGateway:
		m.mu.RLock()
		_, t0 := m.cfg.Tier0s[spec.Gateway]
		_, t1 := m.cfg.Tier1s[spec.Gateway]
		m.mu.RUnlock()
		if !t0 && !t1 {
			return fail(invalidf("gateway %q: no such tier-0 or tier-1 (give its path, as /infra/tier-1s/ID)", spec.Gateway))
		}
		ref, _ := model.ParsePath(spec.Gateway)
		if spec.Project != "" && spec.Project != ref.Project {
			return fail(invalidf("project %q: a gateway agent belongs to its gateway's space (%s)", spec.Project, spaceName(ref.Project)))
		}
		if len(spec.Tags) > 0 || spec.OSName != "" || spec.ComputerName != "" || len(spec.AllowedAddresses) > 0 {
			return fail(invalidf("tags, os_name, computer_name and allowed_addresses describe a VM; a gateway agent has none"))
		}
		a.Project = ref.Project
	default:
		return fail(invalidf("role %q: use vm or gateway", spec.Role))
	}
	if err := checkAttributes(&a.AgentAttributes); err != nil {
		return fail(err)
	}
	creds, serial, err := m.issueIdentity(ctx, spec.Name, "agent")
	if err != nil {
		return fail(err)
	}
	a.CertSerial = serial
	rec, _ := json.Marshal(a)
	none := int64(0)
	conds := []store.Cond{{Key: store.AgentsPrefix + spec.Name, ModRevision: &none}}
	if a.Project != "" {
		conds = append(conds, store.Cond{Key: store.ProjectsPrefix + a.Project, Exists: true})
	}
	rev, err := m.st.Commit(ctx, conds, []store.Op{{Key: store.AgentsPrefix + spec.Name, Value: rec}})
	if errors.Is(err, store.ErrConflict) {
		return fail(&WriteError{Kind: ErrConflict, Message: fmt.Sprintf("an agent named %q is already registered (agent names are unique)", spec.Name)})
	}
	if err != nil {
		return fail(err)
	}
	return a, creds, m.WaitApplied(ctx, rev)
}

func spaceName(project string) string {
	if project == "" {
		return "the default space"
	}
	return "project " + project
}

// UpdateAgent changes what the manager decides about a VM agent.
func (m *Manager) UpdateAgent(ctx context.Context, name string, u AgentUpdate) (Agent, error) {
	for attempt := 0; ; attempt++ {
		kv, ok, err := m.st.Get(ctx, store.AgentsPrefix+name)
		if err != nil {
			return Agent{}, err
		}
		if !ok {
			return Agent{}, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
		}
		var a Agent
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return Agent{}, fmt.Errorf("agent %q: its stored record cannot be read: %w", name, err)
		}
		if a.Role != realization.RoleVM {
			return Agent{}, invalidf("agent %q is a gateway agent; only a VM has tags, names and addresses", name)
		}
		if u.Tags != nil {
			a.Tags = *u.Tags
		}
		if u.OSName != nil {
			a.OSName = *u.OSName
		}
		if u.ComputerName != nil {
			a.ComputerName = *u.ComputerName
		}
		if u.AllowedAddresses != nil {
			a.AllowedAddresses = *u.AllowedAddresses
		}
		if err := checkAttributes(&a.AgentAttributes); err != nil {
			return Agent{}, err
		}
		rec, _ := json.Marshal(a)
		mod := kv.ModRevision
		rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.AgentsPrefix + name, ModRevision: &mod}}, []store.Op{{Key: store.AgentsPrefix + name, Value: rec}})
		if errors.Is(err, store.ErrConflict) && attempt < maxRetries {
			continue // its report changed the record meanwhile
		}
		if err != nil {
			return Agent{}, err
		}
		return a, m.WaitApplied(ctx, rev)
	}
}

func (m *Manager) ca(ctx context.Context) (pki.CA, error) {
	kv, ok, err := m.st.Get(ctx, store.CAKey)
	if err != nil {
		return pki.CA{}, fmt.Errorf("reading the CA: %w", err)
	}
	if !ok {
		return pki.CA{}, errors.New("the installation has no CA")
	}
	return unsealCA(kv.Value, m.seal)
}

// RotateAgent issues a new identity for an agent: the certificate it had
// is refused from the moment the rotation is applied. The new key is
// returned, never stored.
func (m *Manager) RotateAgent(ctx context.Context, name string) (Agent, Credentials, error) {
	return rotateIdentity(m, ctx, store.AgentsPrefix+name, "agent", name,
		&WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)},
		nil, func(a *Agent, serial string) { a.CertSerial = serial })
}

// AgentIdentity checks a client certificate presented for an agent.
func (m *Manager) AgentIdentity(name, serial string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.agents[name]
	switch {
	case !ok:
		return fmt.Errorf("%w: agent %q is not registered (it was deregistered, or never existed); register it again", ErrRevoked, name)
	case a.CertSerial != serial:
		return fmt.Errorf("%w: this certificate of agent %q was replaced", ErrRevoked, name)
	}
	return nil
}

// DeregisterAgent removes an agent and revokes its identity. The agent
// keeps enforcing what it has until it is uninstalled.
func (m *Manager) DeregisterAgent(ctx context.Context, name string) error {
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.AgentsPrefix + name, Exists: true}}, []store.Op{
		{Key: store.AgentsPrefix + name, Delete: true},
		{Key: store.AgentReportPrefix + name, Delete: true},
	})
	if errors.Is(err, store.ErrConflict) {
		return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("agent %q is not registered", name)}
	}
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// sortedAgentNames lists the agents in name order.
func (m *Manager) sortedAgentNamesLocked() []string {
	names := make([]string, 0, len(m.agents))
	for n := range m.agents {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
