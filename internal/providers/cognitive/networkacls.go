package cognitive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/network"
)

// Codes of refused network rule sets, besides the IP rule codes in
// iprule.go.
const (
	CodeInvalidDefaultAction        = "InvalidDefaultAction"
	CodeInvalidBypass               = "InvalidBypass"
	CodeInvalidVirtualNetworkRule   = "InvalidVirtualNetworkRuleId"
	CodeSubnetNotFound              = "LinkedInvalidPropertyId"
	CodeSubnetNotRegistered         = "SubnetSubscriptionNotRegistered"
	CodeMissingServiceEndpoint      = "SubnetMissingServiceEndpoint"
	CodeDuplicateVirtualNetworkRule = "DuplicateVirtualNetworkRule"
	CodeTooManyVirtualNetworkRules  = "TooManyVirtualNetworkRules"
)

// Values of networkAcls enums.
const (
	actionAllow          = "Allow"
	actionDeny           = "Deny"
	bypassNone           = "None"
	bypassAzureServices  = "AzureServices"
	networkACLsTarget    = "properties.networkAcls"
	ipRulesTarget        = networkACLsTarget + ".ipRules"
	vnetRulesTarget      = networkACLsTarget + ".virtualNetworkRules"
	stateRuleSucceeded   = "Succeeded"
	stateEndpointMissing = "Failed"
)

// networkRuleSet is an account's networkAcls as stored and served.
//
// An account without networkAcls is shown with defaultAction Allow and no
// rules — what Azure means by the absence — so that a PATCH of one field
// (e.g. bypass, as the documentation's example does) merges into a complete
// rule set. bypass defaults to None: an exception for trusted services is
// granted only when asked for.
type networkRuleSet struct {
	DefaultAction       string               `json:"defaultAction"`
	Bypass              string               `json:"bypass"`
	IPRules             []ipRule             `json:"ipRules"`
	VirtualNetworkRules []virtualNetworkRule `json:"virtualNetworkRules"`
}

type ipRule struct {
	Value string `json:"value"`
}

// virtualNetworkRule names a subnet whose traffic, arriving through the
// subnet's Microsoft.CognitiveServices service endpoint, is allowed.
//
// State is computed when the account is written: "Succeeded" when the
// subnet has the service endpoint, "Failed" when it has not (possible only
// with ignoreMissingVnetServiceEndpoint): the rule is kept but matches no
// traffic until the endpoint is added, because without it the subnet's
// requests do not arrive with the subnet's identity. The state is as of the
// account's last write (a later change to the subnet does not rewrite it);
// the data plane checks the subnet's endpoints itself, so the state is for
// people reading the account.
type virtualNetworkRule struct {
	ID                               string `json:"id"`
	State                            string `json:"state,omitempty"`
	IgnoreMissingVnetServiceEndpoint bool   `json:"ignoreMissingVnetServiceEndpoint"`
}

// restricts reports whether the rule set limits access at all.
func (n *networkRuleSet) restricts() bool {
	return n != nil && (strings.EqualFold(n.DefaultAction, actionDeny) || len(n.IPRules) > 0 || len(n.VirtualNetworkRules) > 0)
}

// checkNetworkACLs validates an account's networkAcls and returns them
// normalized, with the subnets the virtual network rules reference.
// accountSub is the account's subscription. An omitted defaultAction is
// Allow, as in Azure: rules then take effect only once it is Deny ("be
// sure to set the default rule to deny, or network rules have no effect").
func (p *provider) checkNetworkACLs(ctx context.Context, accountSub string, in *networkRuleSet) (networkRuleSet, []string, error) {
	out := networkRuleSet{DefaultAction: actionAllow, Bypass: bypassNone, IPRules: []ipRule{}, VirtualNetworkRules: []virtualNetworkRule{}}
	if in == nil {
		return out, nil, nil
	}
	if in.DefaultAction != "" {
		v, ok := enum(in.DefaultAction, actionAllow, actionDeny)
		if !ok {
			return out, nil, arm.InvalidProperty(CodeInvalidDefaultAction, networkACLsTarget+".defaultAction",
				"The defaultAction '%s' is invalid. Use 'Deny' to allow only the listed networks, or 'Allow' to allow all networks.", in.DefaultAction)
		}
		out.DefaultAction = v
	}
	if in.Bypass != "" {
		v, ok := enum(in.Bypass, bypassNone, bypassAzureServices)
		if !ok {
			return out, nil, arm.InvalidProperty(CodeInvalidBypass, networkACLsTarget+".bypass",
				"The bypass '%s' is invalid. Use 'AzureServices' to let trusted Azure services through, or 'None'.", in.Bypass)
		}
		out.Bypass = v
	}
	rules, err := checkIPRules(in.IPRules)
	if err != nil {
		return out, nil, err
	}
	out.IPRules = rules
	vnets, refs, err := p.checkVirtualNetworkRules(ctx, accountSub, in.VirtualNetworkRules)
	if err != nil {
		return out, nil, err
	}
	out.VirtualNetworkRules = vnets
	return out, refs, nil
}

// checkIPRules validates every IP rule. All refused rules are reported, the
// first as the error and each in its details, so one round trip shows
// everything to fix.
func checkIPRules(in []ipRule) ([]ipRule, error) {
	if len(in) > maxIPRules {
		return nil, arm.InvalidProperty(CodeTooManyIPRules, ipRulesTarget,
			"The account has %d IP rules; at most %d are allowed. Combine addresses into CIDR ranges or use virtual network rules.", len(in), maxIPRules)
	}
	out := make([]ipRule, 0, len(in))
	var problems []arm.ErrorDetail
	seen := map[string]int{}
	for i, r := range in {
		target := fmt.Sprintf("%s[%d].value", ipRulesTarget, i)
		v, bad := parseIPRule(r.Value)
		if bad != nil {
			problems = append(problems, arm.ErrorDetail{Code: bad.code, Message: bad.message, Target: target})
			continue
		}
		if j, dup := seen[v]; dup {
			problems = append(problems, arm.ErrorDetail{Code: CodeDuplicateIPRule, Target: target,
				Message: fmt.Sprintf("The IP rule '%s' repeats ipRules[%d]. Remove the duplicate.", r.Value, j)})
			continue
		}
		seen[v] = i
		out = append(out, ipRule{Value: v})
	}
	return out, firstProblem(problems)
}

// checkVirtualNetworkRules validates every virtual network rule: the id
// names a subnet that exists in a subscription of this installation, that
// subscription has registered Microsoft.CognitiveServices (Azure's rule for
// subnets in other subscriptions), and the subnet has the
// Microsoft.CognitiveServices service endpoint unless
// ignoreMissingVnetServiceEndpoint says to add the rule anyway.
func (p *provider) checkVirtualNetworkRules(ctx context.Context, accountSub string, in []virtualNetworkRule) ([]virtualNetworkRule, []string, error) {
	if len(in) > maxVirtualNetworkRules {
		return nil, nil, arm.InvalidProperty(CodeTooManyVirtualNetworkRules, vnetRulesTarget,
			"The account has %d virtual network rules; at most %d are allowed.", len(in), maxVirtualNetworkRules)
	}
	out := make([]virtualNetworkRule, 0, len(in))
	var refs []string
	var problems []arm.ErrorDetail
	for i, r := range in {
		target := fmt.Sprintf("%s[%d].id", vnetRulesTarget, i)
		problem := func(code, format string, args ...any) {
			problems = append(problems, arm.ErrorDetail{Code: code, Target: target, Message: fmt.Sprintf(format, args...)})
		}
		id, sub, ok := subnetID(r.ID)
		if !ok {
			problem(CodeInvalidVirtualNetworkRule,
				"The virtual network rule id '%s' is not a subnet id. Use /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{network}/subnets/{subnet}.", r.ID)
			continue
		}
		if slices.ContainsFunc(refs, func(x string) bool { return strings.EqualFold(x, id) }) {
			problem(CodeDuplicateVirtualNetworkRule, "The subnet '%s' is named by more than one virtual network rule. Remove the duplicate.", r.ID)
			continue
		}
		services, found, err := network.SubnetServiceEndpoints(ctx, p.store(), id)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			problem(CodeSubnetNotFound, "The subnet '%s' does not exist. Create the subnet first, or correct the id.", r.ID)
			continue
		}
		if !strings.EqualFold(sub, accountSub) {
			state, err := p.srv.RegistrationState(ctx, sub, namespace)
			if err != nil {
				return nil, nil, err
			}
			if state != arm.Registered {
				problem(CodeSubnetNotRegistered,
					"The subnet '%s' is in subscription '%s', which has not registered the Microsoft.CognitiveServices resource provider. Register it there first (POST /subscriptions/%s/providers/Microsoft.CognitiveServices/register).", r.ID, sub, sub)
				continue
			}
		}
		state := stateRuleSucceeded
		if !slices.ContainsFunc(services, func(s string) bool { return strings.EqualFold(s, network.ServiceCognitiveServices) }) {
			if !r.IgnoreMissingVnetServiceEndpoint {
				problem(CodeMissingServiceEndpoint,
					"The subnet '%s' has no service endpoint for Microsoft.CognitiveServices. Add it to the subnet's serviceEndpoints (az network vnet subnet update --service-endpoints Microsoft.CognitiveServices), or set ignoreMissingVnetServiceEndpoint to true to add the rule now; it takes effect once the endpoint exists.", r.ID)
				continue
			}
			state = stateEndpointMissing
		}
		refs = append(refs, id)
		out = append(out, virtualNetworkRule{ID: id, State: state, IgnoreMissingVnetServiceEndpoint: r.IgnoreMissingVnetServiceEndpoint})
	}
	if err := firstProblem(problems); err != nil {
		return nil, nil, err
	}
	return out, refs, nil
}

// ActionJoinViaServiceEndpoint is what naming a subnet in an account's
// virtual network rules takes on that subnet. Network Contributor holds it
// (Microsoft.Network/*), Owner and Contributor through "*".
const ActionJoinViaServiceEndpoint = network.TypeSubnets + "/joinViaServiceEndpoint/action"

// subnetJoins are the linked accesses of an account's write: joining,
// through its service endpoint, each subnet the virtual network rules of
// new (as Prepare normalized them) name that old did not. Azure checks
// every subnet a request names; here a rule already in place was joined
// by whoever added it, so repeating it (a PUT of the whole account, a
// PATCH of another setting) needs no right on the network, while a subnet
// the account did not name — a new one, or one removed and named again —
// does. Removing a rule needs none.
func subnetJoins(old, new *arm.Resource) ([]arm.Access, error) {
	var before, after accountProperties
	if old != nil {
		if err := json.Unmarshal(old.Properties, &before); err != nil {
			return nil, fmt.Errorf("decode stored account %s: %w", old.ID, err)
		}
	}
	if err := json.Unmarshal(new.Properties, &after); err != nil {
		return nil, fmt.Errorf("decode account %s: %w", new.ID, err)
	}
	if after.NetworkACLs == nil {
		return nil, nil
	}
	var had []virtualNetworkRule
	if before.NetworkACLs != nil {
		had = before.NetworkACLs.VirtualNetworkRules
	}
	var joins []arm.Access
	for _, r := range after.NetworkACLs.VirtualNetworkRules {
		id, _, ok := subnetID(r.ID)
		if !ok || slices.ContainsFunc(had, func(h virtualNetworkRule) bool { return strings.EqualFold(h.ID, id) }) {
			continue // not a subnet id (Prepare refuses it as such), or joined already
		}
		if !slices.ContainsFunc(joins, func(j arm.Access) bool { return strings.EqualFold(j.Scope, id) }) {
			joins = append(joins, arm.Access{Action: ActionJoinViaServiceEndpoint, Scope: id, Linked: true})
		}
	}
	return joins, nil
}

// subnetID parses a subnet id and returns it with canonical type casing,
// and its subscription.
func subnetID(id string) (canonical, subscription string, ok bool) {
	elems, err := arm.ParseID(id)
	if err != nil || len(elems) != 4 ||
		!strings.EqualFold(elems[0].Type, arm.TypeSubscription) ||
		!strings.EqualFold(elems[1].Type, arm.TypeResourceGroup) ||
		!strings.EqualFold(elems[2].Type, network.TypeVirtualNetworks) ||
		!strings.EqualFold(elems[3].Type, network.TypeSubnets) {
		return "", "", false
	}
	return arm.FormatID([]arm.Elem{
		{Type: arm.TypeSubscription, Name: elems[0].Name},
		{Type: arm.TypeResourceGroup, Name: elems[1].Name},
		{Type: network.TypeVirtualNetworks, Name: elems[2].Name},
		{Type: network.TypeSubnets, Name: elems[3].Name},
	}), elems[0].Name, true
}

// firstProblem turns a list of problems into one ARM error: the first
// problem, with every problem in details when there are several.
func firstProblem(problems []arm.ErrorDetail) error {
	if len(problems) == 0 {
		return nil
	}
	first := problems[0]
	e := arm.InvalidProperty(first.Code, first.Target, "%s", first.Message)
	if len(problems) > 1 {
		more := len(problems) - 1
		if more == 1 {
			e.Message += " 1 more problem is listed in details."
		} else {
			e.Message += fmt.Sprintf(" %d more problems are listed in details.", more)
		}
		e.Details = problems
	}
	return e
}
