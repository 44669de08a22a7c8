package cognitive

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Codes of refused accounts, besides those of the files for network
// rules, subdomains, identities and keys.
const (
	CodeKindRequired                 = "KindRequired"
	CodeKindNotSupported             = "KindNotSupported"
	CodeKindChangeNotAllowed         = "KindChangeNotAllowed"
	CodeSKURequired                  = "SkuRequired"
	CodeSKUNotSupported              = "SkuNotSupported"
	CodeInvalidPublicNetworkAccess   = "InvalidPublicNetworkAccess"
	CodeProjectManagementUnsupported = "ProjectManagementNotSupported"
	CodeAccountHasProjects           = "AccountHasProjects"
)

// Account kinds with behaviour of their own here.
const (
	kindAIServices        = "AIServices"
	kindOpenAI            = "OpenAI"
	kindCognitiveServices = "CognitiveServices"
)

// accountKinds are the kinds accepted, in their canonical spelling: the
// Foundry and OpenAI kinds the gateway serves, and the other AI services
// kinds Azure offers (stored and governed, without a data plane here).
func accountKinds() []string {
	return []string{
		kindAIServices, kindOpenAI, kindCognitiveServices, "AnomalyDetector", "ComputerVision",
		"ContentModerator", "ContentSafety", "CustomVision.Prediction", "CustomVision.Training", "Face",
		"FormRecognizer", "HealthInsights", "ImmersiveReader", "LUIS", "LUIS.Authoring", "Personalizer",
		"SpeechServices", "TextAnalytics", "TextTranslation",
	}
}

// servedKind reports whether the gateway serves the kind's data plane
// (model deployments, OpenAI-style paths).
func servedKind(kind string) bool { return kind == kindAIServices || kind == kindOpenAI }

// accountSKUs are the account SKU names accepted for a kind: Azure offers
// only S0 for the Foundry and OpenAI kinds.
func accountSKUs(kind string) []string {
	if servedKind(kind) {
		return []string{"S0"}
	}
	return []string{"F0", "S0", "S", "S1", "S2", "S3", "S4", "E0"}
}

// Public network access values.
const (
	accessEnabled  = "Enabled"
	accessDisabled = "Disabled"
)

// accountProperties are an account's properties as stored and served.
// Settings this package does not implement are refused (see
// refuseUnsupported) rather than stored or silently dropped: accepting them
// would claim protection Perimeter does not give.
type accountProperties struct {
	Endpoint                      string            `json:"endpoint,omitempty"`
	Endpoints                     map[string]string `json:"endpoints,omitempty"`
	CustomSubDomainName           string            `json:"customSubDomainName,omitempty"`
	PublicNetworkAccess           string            `json:"publicNetworkAccess"`
	NetworkACLs                   *networkRuleSet   `json:"networkAcls"`
	DisableLocalAuth              bool              `json:"disableLocalAuth"`
	RestrictOutboundNetworkAccess bool              `json:"restrictOutboundNetworkAccess"`
	AllowedFqdnList               []string          `json:"allowedFqdnList,omitempty"`
	AllowProjectManagement        bool              `json:"allowProjectManagement"`
	Capabilities                  []capability      `json:"capabilities,omitempty"`
	DateCreated                   string            `json:"dateCreated,omitempty"`
}

// capability is an entry of an account's read-only capabilities.
type capability struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// accounts are Microsoft.CognitiveServices/accounts.
type accounts struct{ *provider }

func (*accounts) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeAccounts, APIVersions: accountAPIVersions(), ParentType: arm.TypeResourceGroup,
		ListUnder: []string{arm.TypeSubscription}, Location: arm.LocationRequired, Tracked: true,
		Name: nameRule(), BodyETag: true, AsyncProvisioning: true, AsyncDelete: true,
		Actions: append([]string{"listKeys", "regenerateKey"}, managedidentity.BindingActions()...),
		// Binding the account's system-assigned identity to a workload
		// lets the workload act as the account's identity.
		ActionOperations: managedidentity.BindingOperations(managedidentity.ActionBindSystemAssigned, TypeAccounts+"/read"),
	}
}

// Prepare validates an account, fills in defaults and computed
// properties, and adds the writes that commit with it: the subdomain
// reservation, the identity's service principal and, on create, the keys.
// Cheap checks of the body come first, then those that read the store.
func (a *accounts) Prepare(ctx context.Context, w *arm.Write) error {
	var in accountProperties
	if err := arm.DecodeProperties(w.New.Properties, &in); err != nil {
		return err
	}
	if err := refuseUnsupported(w.New.Properties); err != nil {
		return err
	}
	var old accountProperties
	oldKind := ""
	if w.Old != nil {
		if err := json.Unmarshal(w.Old.Properties, &old); err != nil {
			return err
		}
		oldKind = w.Old.Kind
	}
	kind, err := checkKind(w.New.Kind, oldKind)
	if err != nil {
		return err
	}
	sku, err := checkAccountSKU(w.New.SKU, kind)
	if err != nil {
		return err
	}
	out := accountProperties{
		CustomSubDomainName:           in.CustomSubDomainName,
		PublicNetworkAccess:           accessEnabled,
		DisableLocalAuth:              in.DisableLocalAuth,
		RestrictOutboundNetworkAccess: in.RestrictOutboundNetworkAccess,
		AllowProjectManagement:        in.AllowProjectManagement,
		DateCreated:                   old.DateCreated,
	}
	if out.DateCreated == "" {
		out.DateCreated = w.New.SystemData.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if old.CustomSubDomainName != "" && strings.EqualFold(in.CustomSubDomainName, old.CustomSubDomainName) {
		out.CustomSubDomainName = old.CustomSubDomainName // keep the casing first given
	}
	if in.PublicNetworkAccess != "" {
		v, ok := enum(in.PublicNetworkAccess, accessEnabled, accessDisabled)
		if !ok {
			return arm.InvalidProperty(CodeInvalidPublicNetworkAccess, "properties.publicNetworkAccess",
				"The publicNetworkAccess '%s' is invalid. Use 'Enabled' or 'Disabled'.", in.PublicNetworkAccess)
		}
		out.PublicNetworkAccess = v
	}
	if out.AllowedFqdnList, err = checkFQDNs(in.AllowedFqdnList); err != nil {
		return err
	}
	if out.AllowProjectManagement && kind != kindAIServices {
		return arm.InvalidProperty(CodeProjectManagementUnsupported, "properties.allowProjectManagement",
			"Projects are a feature of Foundry accounts: allowProjectManagement needs kind 'AIServices', not '%s'.", kind)
	}
	if err := needsSubdomain(w.New.Name, kind, out, in.NetworkACLs); err != nil {
		return err
	}

	acls, refs, err := a.checkNetworkACLs(ctx, w.SubscriptionID(), in.NetworkACLs)
	if err != nil {
		return err
	}
	out.NetworkACLs = &acls
	subOp, err := a.checkSubdomain(ctx, w.New.ID, out.CustomSubDomainName, old.CustomSubDomainName)
	if err != nil {
		return err
	}
	if old.AllowProjectManagement && !out.AllowProjectManagement {
		if err := a.checkNoProjects(ctx, w.New.ID); err != nil {
			return err
		}
	}
	ident, err := a.resolveIdentity(ctx, w)
	if err != nil {
		return err
	}
	keysOp, err := a.ensureKeysOp(ctx, w.New.ID, w.Old == nil)
	if err != nil {
		return err
	}

	out.Endpoint, out.Endpoints = a.accountEndpoints(kind, out.CustomSubDomainName)
	out.Capabilities = accountCapabilities(kind)
	props, err := marshalProps(out)
	if err != nil {
		return err
	}
	w.New.Kind, w.New.SKU, w.New.Identity, w.New.ManagedBy, w.New.Properties = kind, sku, ident.identity, "", props
	if subOp != nil {
		w.Ops = append(w.Ops, *subOp)
	}
	if keysOp != nil {
		w.Ops = append(w.Ops, *keysOp)
	}
	w.Ops = append(w.Ops, ident.ops...)
	w.References = refs
	return nil
}

// Provision completes an account. Nothing here is slow — keys, identity
// and reservation commit with the PUT — but accounts report
// provisioningState through a long-running operation as Azure's do, so
// clients' pollers run their usual course.
func (*accounts) Provision(context.Context, *arm.Resource) (json.RawMessage, error) {
	return nil, nil
}

func (a *accounts) Action(ctx context.Context, act *arm.Action) (*arm.Result, error) {
	switch act.Name {
	case "regenerateKey":
		return a.regenerateKey(ctx, act)
	case "listKeys":
		return a.listKeys(ctx, act)
	}
	return a.workloadBinding(ctx, act)
}

// checkKind validates an account's kind. Kinds do not change, except the
// upgrade of an OpenAI account to a Foundry (AIServices) account that
// Azure offers.
func checkKind(kind, old string) (string, error) {
	if kind == "" {
		return "", arm.InvalidProperty(CodeKindRequired, "kind",
			"The account needs a kind. Set 'kind', for example to 'AIServices' (a Foundry resource) or 'OpenAI'.")
	}
	k, ok := enum(kind, accountKinds()...)
	if !ok {
		return "", arm.InvalidProperty(CodeKindNotSupported, "kind", "The kind '%s' is not supported. Use one of: %s.", kind, strings.Join(accountKinds(), ", "))
	}
	if old != "" && k != old && !(old == kindOpenAI && k == kindAIServices) {
		return "", arm.InvalidProperty(CodeKindChangeNotAllowed, "kind",
			"The kind of an account cannot change from '%s' to '%s' (only 'OpenAI' can be upgraded to 'AIServices'). Keep kind '%s' or create a new account.", old, k, old)
	}
	return k, nil
}

func checkAccountSKU(raw json.RawMessage, kind string) (json.RawMessage, error) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeField(raw, "sku", &in); err != nil {
		return nil, err
	}
	allowed := accountSKUs(kind)
	if in.Name == "" {
		return nil, arm.InvalidProperty(CodeSKURequired, "sku.name", "The account needs a SKU. Set sku.name to %s.", oneOf(allowed...))
	}
	name, ok := enum(in.Name, allowed...)
	if !ok {
		return nil, arm.InvalidProperty(CodeSKUNotSupported, "sku.name", "The SKU '%s' is not offered for kind '%s'. Use %s.", in.Name, kind, oneOf(allowed...))
	}
	return json.Marshal(map[string]string{"name": name})
}

// needsSubdomain refuses an account that needs a custom subdomain and has
// none. The gateway identifies accounts by the host name the subdomain
// gives, so the kinds it serves need one; so do network rules (Azure
// requires the custom subdomain for them: a request must name the account
// whose rules apply) and projects (their endpoints are under it).
func needsSubdomain(account, kind string, p accountProperties, acls *networkRuleSet) error {
	if p.CustomSubDomainName != "" {
		return nil
	}
	var why string
	switch {
	case servedKind(kind):
		why = "Perimeter serves " + kind + " accounts only at their custom subdomain (https://{customSubDomainName}.cognitiveservices.{base domain}/); there is no shared regional endpoint."
	case acls.restricts():
		why = "Network rules (networkAcls) need a custom subdomain: requests must reach the account by its own host name for its rules to apply."
	case p.AllowProjectManagement:
		why = "Projects need a custom subdomain: their endpoints are under it."
	default:
		return nil
	}
	return arm.InvalidProperty(CodeSubdomainRequired, subdomainTarget,
		"%s Set properties.customSubDomainName, for example to '%s'.", why, suggestSubdomain(account))
}

// suggestSubdomain derives a valid subdomain from an account name.
func suggestSubdomain(account string) string {
	b := []byte(strings.ToLower(account))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	s := strings.Trim(string(b), "-")
	if len(s) > maxSubdomainLen {
		s = strings.TrimRight(s[:maxSubdomainLen], "-")
	}
	if len(s) < 2 {
		return "my-account"
	}
	return s
}

// checkNoProjects refuses turning allowProjectManagement off while the
// account has projects. A project commits only if its account is unchanged
// since the project's checks, so a project cannot be created in an account
// that turned projects off. The converse window — a project committing
// between this listing and the account's commit — remains: closing it would
// make every project create write a document the account checks, turning
// concurrent project creates into conflicts. The outcome is an account that
// shows allowProjectManagement false with a project it already had.
func (a *accounts) checkNoProjects(ctx context.Context, accountID string) error {
	docs, err := a.store().List(ctx, store.ListOptions{Type: TypeProjects, Parent: accountID, Limit: 1})
	if err != nil {
		return err
	}
	if len(docs) > 0 {
		return arm.Errorf(http.StatusConflict, CodeAccountHasProjects,
			"allowProjectManagement cannot be turned off while the account has projects, such as '%s'. Delete its projects first.", docs[0].ID)
	}
	return nil
}

// accountCapabilities are the read-only capabilities Azure lists, for the
// features implemented here: virtual network rules, and for the kinds the
// gateway serves, the trusted services that bypass AzureServices admits.
func accountCapabilities(kind string) []capability {
	caps := []capability{{Name: "VirtualNetworks"}}
	if servedKind(kind) {
		caps = append(caps, capability{Name: "TrustedServices", Value: "Microsoft.CognitiveServices,Microsoft.MachineLearningServices,Microsoft.Search"})
	}
	return caps
}

// CodeUnsupportedProperty refuses account settings Perimeter does not
// implement.
const CodeUnsupportedProperty = "UnsupportedProperty"

// unsupported are account properties that change security or data
// placement in Azure and that Perimeter does not implement. Empty values
// (null, {}, []) and Azure's defaults are accepted, so bodies copied from
// Azure that merely mention them still work.
var unsupported = []struct{ name, what string }{
	{"encryption", "customer-managed keys"},
	{"userOwnedStorage", "user-owned storage"},
	{"amlWorkspace", "Azure Machine Learning workspace links"},
	{"raiMonitorConfig", "responsible-AI monitoring storage"},
	{"networkInjections", "network injection of agents"},
	{"locations", "multi-region routing"},
	{"apiProperties", "service-specific API properties"},
	{"migrationToken", "migration"},
	{"restore", "restoring deleted accounts"},
}

// refuseUnsupported refuses a body that sets a property from unsupported.
func refuseUnsupported(raw json.RawMessage) error {
	var props map[string]json.RawMessage
	if json.Unmarshal(raw, &props) != nil {
		return nil // DecodeProperties already explained what is wrong
	}
	for _, u := range unsupported {
		name, what := u.name, u.what
		v := strings.TrimSpace(string(props[name]))
		switch v {
		case "", "null", "{}", "[]", "false":
			continue
		}
		if name == "encryption" && isServiceManagedEncryption(props[name]) {
			continue
		}
		return arm.InvalidProperty(CodeUnsupportedProperty, "properties."+name,
			"The property 'properties.%s' (%s) is not supported by Perimeter. Remove it from the request.", name, what)
	}
	return nil
}

// isServiceManagedEncryption accepts {"keySource": "Microsoft.CognitiveServices"}:
// encryption with service-managed keys, which is what Perimeter's own
// sealing of secrets amounts to.
func isServiceManagedEncryption(raw json.RawMessage) bool {
	var e struct {
		KeySource          string          `json:"keySource"`
		KeyVaultProperties json.RawMessage `json:"keyVaultProperties"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return false
	}
	kv := strings.TrimSpace(string(e.KeyVaultProperties))
	return strings.EqualFold(e.KeySource, "Microsoft.CognitiveServices") && (kv == "" || kv == "null" || kv == "{}")
}
