package cognitive

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/models"
)

// Codes of refused deployments.
const (
	CodeDeploymentsNotSupported     = "DeploymentsNotSupportedForKind"
	CodeDeploymentModelRequired     = "DeploymentModelRequired"
	CodeDeploymentModelNotSupported = "DeploymentModelNotSupported"
	CodeDeploymentModelChange       = "DeploymentModelChangeNotAllowed"
	CodeDeploymentSKURequired       = "DeploymentSkuRequired"
	CodeInvalidDeploymentSKU        = "InvalidDeploymentSku"
	CodeInvalidDeploymentCapacity   = "InvalidDeploymentCapacity"
	CodeInvalidVersionUpgradeOption = "InvalidVersionUpgradeOption"
)

// deploymentSKUs are the deployment SKU names Azure offers. The Standard
// family (all but the provisioned ones) counts capacity in thousands of
// tokens per minute; the provisioned ones in provisioned throughput units.
func deploymentSKUs() []string {
	return []string{
		"Standard", "GlobalStandard", "DataZoneStandard", "GlobalBatch", "DataZoneBatch",
		"ProvisionedManaged", "GlobalProvisionedManaged", "DataZoneProvisionedManaged",
	}
}

func standardFamily(sku string) bool { return !strings.Contains(sku, "Provisioned") }

func versionUpgradeOptions() []string {
	return []string{"OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired", "NoAutoUpgrade"}
}

const (
	defaultRaiPolicy = "Microsoft.DefaultV2"
	// defaultCapacity is the capacity of a deployment that names none (10
	// = 10,000 tokens per minute on Standard SKUs), capped by the model.
	defaultCapacity = 10
	// tokensPerUnit is what one unit of Standard-family capacity allows per
	// minute.
	tokensPerUnit = 1000
)

// deploymentModel names a catalog model.
type deploymentModel struct {
	Format  string `json:"format"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

type deploymentSKU struct {
	Name     string `json:"name"`
	Capacity *int   `json:"capacity,omitempty"`
}

// deploymentProperties are a deployment's properties as stored and served.
// currentCapacity, capabilities and rateLimits are read-only: capacity is
// sku.capacity (kept for the token-limit work to enforce), the rest comes
// from the catalog model.
type deploymentProperties struct {
	Model                deploymentModel   `json:"model"`
	RaiPolicyName        string            `json:"raiPolicyName"`
	VersionUpgradeOption string            `json:"versionUpgradeOption"`
	CurrentCapacity      int               `json:"currentCapacity"`
	DeploymentState      string            `json:"deploymentState"`
	Capabilities         map[string]string `json:"capabilities,omitempty"`
	RateLimits           []rateLimit       `json:"rateLimits,omitempty"`
}

// rateLimit is Azure's ThrottlingRule: count per renewalPeriod seconds.
type rateLimit struct {
	Key           string  `json:"key"`
	RenewalPeriod float64 `json:"renewalPeriod"`
	Count         float64 `json:"count"`
}

// deployments are Microsoft.CognitiveServices/accounts/deployments: a
// catalog model made available under a name at the account's endpoint.
type deployments struct{ *provider }

func (*deployments) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeDeployments, APIVersions: deploymentAPIVersions(), ParentType: TypeAccounts,
		Name: nameRule(), BodyETag: true, AsyncProvisioning: true,
	}
}

func (d *deployments) Prepare(_ context.Context, w *arm.Write) error {
	if !servedKind(w.Parent.Kind) {
		return arm.BadRequest(CodeDeploymentsNotSupported,
			"The account '%s' is of kind '%s', which has no model deployments. Deploy models to an 'AIServices' or 'OpenAI' account.", w.Parent.Name, w.Parent.Kind)
	}
	var in struct {
		Model                *deploymentModel `json:"model"`
		RaiPolicyName        string           `json:"raiPolicyName"`
		VersionUpgradeOption string           `json:"versionUpgradeOption"`
	}
	if err := arm.DecodeProperties(w.New.Properties, &in); err != nil {
		return err
	}
	if in.Model == nil || in.Model.Format == "" || in.Model.Name == "" {
		return arm.InvalidProperty(CodeDeploymentModelRequired, "properties.model",
			"The deployment must name a model: properties.model {\"format\", \"name\", \"version\"}, for example {\"format\": \"Perimeter\", \"name\": \"mock\", \"version\": \"1\"}.")
	}
	if w.Old != nil {
		var old deploymentProperties
		if err := json.Unmarshal(w.Old.Properties, &old); err != nil {
			return err
		}
		if !strings.EqualFold(old.Model.Format, in.Model.Format) || !strings.EqualFold(old.Model.Name, in.Model.Name) {
			return arm.InvalidProperty(CodeDeploymentModelChange, "properties.model",
				"A deployment's model cannot change from '%s/%s' to '%s/%s'; only its version can. Create a new deployment for the other model.",
				old.Model.Format, old.Model.Name, in.Model.Format, in.Model.Name)
		}
	}
	model, ok := d.cfg.Catalog.Find(in.Model.Format, in.Model.Name, in.Model.Version)
	if !ok {
		return arm.InvalidProperty(CodeDeploymentModelNotSupported, "properties.model",
			"The model %s is not in this installation's model catalog. Deploy one of: %s. GET .../providers/Microsoft.CognitiveServices/locations/{location}/models lists the catalog; operators add models with the models file.",
			describeModel(in.Model.Format, in.Model.Name, in.Model.Version), catalogSummary(d.cfg.Catalog))
	}
	sku, err := checkDeploymentSKU(w.New.SKU, model)
	if err != nil {
		return err
	}
	out := deploymentProperties{
		Model:                deploymentModel{Format: model.Format, Name: model.Name, Version: model.Version},
		RaiPolicyName:        defaultRaiPolicy,
		VersionUpgradeOption: "OnceNewDefaultVersionAvailable",
		CurrentCapacity:      *sku.Capacity,
		DeploymentState:      "Running",
		Capabilities:         capabilities(model),
	}
	if in.RaiPolicyName != "" {
		out.RaiPolicyName = in.RaiPolicyName
	}
	if in.VersionUpgradeOption != "" {
		v, ok := enum(in.VersionUpgradeOption, versionUpgradeOptions()...)
		if !ok {
			return arm.InvalidProperty(CodeInvalidVersionUpgradeOption, "properties.versionUpgradeOption",
				"The versionUpgradeOption '%s' is invalid. Use %s.", in.VersionUpgradeOption, oneOf(versionUpgradeOptions()...))
		}
		out.VersionUpgradeOption = v
	}
	if standardFamily(sku.Name) {
		out.RateLimits = []rateLimit{{Key: "token", RenewalPeriod: 60, Count: float64(*sku.Capacity * tokensPerUnit)}}
	}
	props, err := marshalProps(out)
	if err != nil {
		return err
	}
	skuJSON, err := json.Marshal(sku)
	if err != nil {
		return err
	}
	w.New.Properties, w.New.SKU, w.New.Kind, w.New.Identity, w.New.ManagedBy = props, skuJSON, "", nil, ""
	return nil
}

// Provision completes a deployment: the model is served from the catalog
// as soon as the deployment is stored, so there is nothing slow to do; the
// operation exists because Azure answers deployments' PUT with one.
func (*deployments) Provision(context.Context, *arm.Resource) (json.RawMessage, error) {
	return nil, nil
}

// checkDeploymentSKU validates sku {name, capacity}: a known name, and a
// capacity from 1 to the model's maximum (defaulting to defaultCapacity).
func checkDeploymentSKU(raw json.RawMessage, model models.Model) (deploymentSKU, error) {
	var in deploymentSKU
	if err := decodeField(raw, "sku", &in); err != nil {
		return in, err
	}
	if in.Name == "" {
		return in, arm.InvalidProperty(CodeDeploymentSKURequired, "sku.name",
			"The deployment needs a SKU: sku {\"name\": \"Standard\", \"capacity\": 10} (capacity in thousands of tokens per minute).")
	}
	name, ok := enum(in.Name, deploymentSKUs()...)
	if !ok {
		return in, arm.InvalidProperty(CodeInvalidDeploymentSKU, "sku.name", "The deployment SKU '%s' is invalid. Use %s.", in.Name, oneOf(deploymentSKUs()...))
	}
	maxCap := model.Capacity()
	capacity := min(defaultCapacity, maxCap)
	if in.Capacity != nil {
		capacity = *in.Capacity
	}
	if capacity < 1 || capacity > maxCap {
		unit := "thousands of tokens per minute"
		if !standardFamily(name) {
			unit = "provisioned throughput units"
		}
		return in, arm.InvalidProperty(CodeInvalidDeploymentCapacity, "sku.capacity",
			"The capacity %d is out of range for %s: use 1 to %d (%s).", capacity, describeModel(model.Format, model.Name, model.Version), maxCap, unit)
	}
	return deploymentSKU{Name: name, Capacity: &capacity}, nil
}

// capabilities lists a model's capabilities as Azure does: name -> "true".
func capabilities(m models.Model) map[string]string {
	out := make(map[string]string, len(m.Capabilities))
	for _, c := range m.Capabilities {
		out[c] = "true"
	}
	return out
}

func describeModel(format, name, version string) string {
	if version == "" {
		return fmt.Sprintf("'%s/%s'", format, name)
	}
	return fmt.Sprintf("'%s/%s' version '%s'", format, name, version)
}

// catalogSummary names the catalog's models, up to ten, for messages.
func catalogSummary(c *models.Catalog) string {
	all := c.All()
	var names []string
	for i, m := range all {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(all)-10))
			break
		}
		names = append(names, fmt.Sprintf("%s/%s version %s", m.Format, m.Name, m.Version))
	}
	return strings.Join(names, ", ")
}
