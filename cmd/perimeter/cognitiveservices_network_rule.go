package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// csRuleView is the table of network rules: one row per rule.
func csRuleView() []field {
	return []field{at("Type", "type"), at("Value", "value"), at("State", "state")}
}

// newCSNetworkRuleCommand is `cognitiveservices account network-rule`.
func newCSNetworkRuleCommand(g *globals) *cobra.Command {
	cmd := groupCommand("network-rule", "Manage the network rules (firewall) of an AI services account")
	cmd.AddCommand(csRuleAdd(g), csRuleList(g), csRuleRemove(g))
	return cmd
}

// ruleSelector names a rule: an IP address or range, and/or a subnet by id
// or by name with its virtual network.
type ruleSelector struct {
	name, group     string
	ip, subnet, net string
}

func (r *ruleSelector) flags(cmd *cobra.Command) {
	accountFlags(cmd, &r.name, &r.group)
	f := cmd.Flags()
	f.StringVar(&r.ip, "ip-address", "", "IPv4 address or CIDR range")
	f.StringVar(&r.subnet, "subnet", "", "name or id of a subnet; a name needs --vnet-name")
	f.StringVar(&r.net, "vnet-name", "", "name of the subnet's virtual network (in the account's resource group)")
}

// check validates the selector before anything is sent, as az's subnet
// validator does.
func (r *ruleSelector) check() error {
	if r.ip == "" && r.subnet == "" {
		return usageErrorf("usage error: --ip-address IP | --subnet ID | --subnet NAME --vnet-name NAME")
	}
	isID := strings.HasPrefix(r.subnet, "/")
	if (r.net != "" && (r.subnet == "" || isID)) || (r.subnet != "" && !isID && r.net == "") {
		return usageErrorf("incorrect usage: [--subnet ID | --subnet NAME --vnet-name NAME]")
	}
	return nil
}

// subnetID is the id of the selected subnet ("" when none is): a name is
// looked for in the account's subscription and resource group.
func (r *ruleSelector) subnetID(s *session) string {
	if r.subnet == "" || strings.HasPrefix(r.subnet, "/") {
		return r.subnet
	}
	return s.vnetPath(r.group, r.net, "subnets", r.subnet)
}

// editRules is add and remove: it checks the selector, reads the account
// and lets change edit its rule set (subnet is the selected subnet's id);
// when change reports a change, the rule set is PATCHed back with If-Match,
// and all of it done again after a concurrent change. It returns the
// account as last read or written.
func (r *ruleSelector) editRules(g *globals, cmd *cobra.Command, change func(acls map[string]any, subnet string) bool) (*response, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	s, err := g.session(cmd)
	if err != nil {
		return nil, err
	}
	subnet := r.subnetID(s)
	return s.updateWithETag(cmd.Context(), http.MethodPatch, s.accountPath(r.group, r.name), apiCognitive, func(account map[string]any) (any, error) {
		acls := networkACLs(account)
		if !change(acls, subnet) {
			return nil, nil
		}
		return map[string]any{"properties": map[string]any{"networkAcls": acls}}, nil
	}, false)
}

// networkACLs returns an account's rule set. Missing, it is the rule set
// az starts from: deny by default, no rules.
func networkACLs(account map[string]any) map[string]any {
	if acls, ok := lookup(account, "properties.networkAcls").(map[string]any); ok {
		return acls
	}
	return map[string]any{"defaultAction": "Deny", "ipRules": []any{}, "virtualNetworkRules": []any{}}
}

// sameIPRule reports whether two IP rule values name the same addresses:
// "203.0.113.7" and "203.0.113.7/32" do.
func sameIPRule(a, b string) bool {
	pa, errA := parseIPOrPrefix(a)
	pb, errB := parseIPOrPrefix(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return pa == pb
}

func parseIPOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func csRuleAdd(g *globals) *cobra.Command {
	var r ruleSelector
	var ignoreMissing bool
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a network rule to an account",
		Long: `Add an IP rule (--ip-address) and/or a virtual network rule (--subnet) to an
account's network rules and print the account, as
'az cognitiveservices account network-rule add' does.

Adding a rule does not change the rule set's default action. A rule matters
only while the default action is Deny (set it with 'account update
--default-action Deny'); with Allow every network is admitted anyway. (As in
az, an account that has no rule set at all gets one that denies by default.)

The account is read, the rule appended and the rule set written back with
If-Match on the ETag read, so a concurrent change is never lost: when the
account changed in between, it is read and the rule applied again. A rule
that is already there is not added twice.

A subnet needs the Microsoft.CognitiveServices service endpoint; the server
refuses the rule otherwise, unless --ignore-missing-vnet-service-endpoint
says to add it anyway (it then takes effect once the endpoint exists).`,
		Example: `  perimeter cognitiveservices account network-rule add -g demo -n ai1 --ip-address 203.0.113.0/24
  perimeter cognitiveservices account network-rule add -g demo -n ai1 --vnet-name vnet1 --subnet apps`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := r.editRules(g, cmd, func(acls map[string]any, subnet string) bool {
				changed := false
				if r.ip != "" {
					rules, _ := acls["ipRules"].([]any)
					if !slices.ContainsFunc(rules, func(x any) bool { return sameIPRule(stringAt(x, "value"), r.ip) }) {
						acls["ipRules"] = append(rules, map[string]any{"value": r.ip})
						changed = true
					}
				}
				if subnet != "" {
					rules, _ := acls["virtualNetworkRules"].([]any)
					if !slices.ContainsFunc(rules, func(x any) bool { return strings.EqualFold(stringAt(x, "id"), subnet) }) {
						acls["virtualNetworkRules"] = append(rules, map[string]any{"id": subnet, "ignoreMissingVnetServiceEndpoint": ignoreMissing})
						changed = true
					}
				}
				return changed
			})
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csAccountView())
		},
	}
	r.flags(cmd)
	cmd.Flags().BoolVar(&ignoreMissing, "ignore-missing-vnet-service-endpoint", false,
		"add a subnet rule even though the subnet has no Microsoft.CognitiveServices service endpoint yet")
	return cmd
}

func csRuleList(g *globals) *cobra.Command {
	var name, group string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the network rules of an account",
		Long: `Show an account's network rule set (networkAcls): its default action, bypass,
IP rules and virtual network rules. The table shows one row per rule.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.client.get(cmd.Context(), s.accountPath(group, name), apiVersion(apiCognitive))
			if err != nil {
				return err
			}
			v, err := decodeValue(resp.body)
			if err != nil {
				return fmt.Errorf("the server's answer is not JSON: %w", err)
			}
			account, _ := v.(map[string]any)
			acls := networkACLs(account)
			if g.output != "table" {
				return g.print(cmd, acls, nil)
			}
			var rows []any
			ips, _ := acls["ipRules"].([]any)
			for _, x := range ips {
				rows = append(rows, map[string]any{"type": "IpRule", "value": stringAt(x, "value")})
			}
			subnets, _ := acls["virtualNetworkRules"].([]any)
			for _, x := range subnets {
				rows = append(rows, map[string]any{"type": "VirtualNetworkRule", "value": stringAt(x, "id"), "state": stringAt(x, "state")})
			}
			if len(rows) == 0 {
				return nil
			}
			return g.printView(cmd, rows, csRuleView())
		},
	}
	accountFlags(cmd, &name, &group)
	return cmd
}

func csRuleRemove(g *globals) *cobra.Command {
	var r ruleSelector
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove a network rule from an account",
		Long: `Remove an IP rule (--ip-address) and/or a virtual network rule (--subnet) from
an account's network rules and print the account, as
'az cognitiveservices account network-rule remove' does. The default action
does not change. Like add, the change is written with If-Match and applied
again after a concurrent change. A rule that is not there is reported with a
warning, and nothing is written.`,
		Example: `  perimeter cognitiveservices account network-rule remove -g demo -n ai1 --ip-address 203.0.113.0/24`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var missing []string
			resp, err := r.editRules(g, cmd, func(acls map[string]any, subnet string) bool {
				missing = missing[:0]
				removed := false
				if r.ip != "" {
					rules, _ := acls["ipRules"].([]any)
					kept := slices.DeleteFunc(slices.Clone(rules), func(x any) bool { return sameIPRule(stringAt(x, "value"), r.ip) })
					if len(kept) == len(rules) {
						missing = append(missing, "IP rule '"+r.ip+"'")
					} else {
						acls["ipRules"], removed = kept, true
					}
				}
				if subnet != "" {
					rules, _ := acls["virtualNetworkRules"].([]any)
					kept := slices.DeleteFunc(slices.Clone(rules), func(x any) bool { return strings.EqualFold(stringAt(x, "id"), subnet) })
					if len(kept) == len(rules) {
						missing = append(missing, "virtual network rule for '"+subnet+"'")
					} else {
						acls["virtualNetworkRules"], removed = kept, true
					}
				}
				return removed
			})
			if err != nil {
				return err
			}
			for _, m := range missing {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: The account '%s' has no %s; nothing to remove.\n", r.name, m)
			}
			return g.printViewBody(cmd, resp.body, csAccountView())
		},
	}
	r.flags(cmd)
	return cmd
}
