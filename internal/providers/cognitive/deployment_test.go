package cognitive_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func deployment(format, name, version, sku string, capacity any) map[string]any {
	s := map[string]any{"name": sku}
	if capacity != nil {
		s["capacity"] = capacity
	}
	return map[string]any{"sku": s, "properties": map[string]any{"model": map[string]any{"format": format, "name": name, "version": version}}}
}

func TestDeployments(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("dep"), account("dep-test", nil))
	path := acct("dep") + "/deployments/chat"

	// The mock model deploys; PUT answers 201 with Accepted, as Azure does.
	r := e.Must(http.StatusCreated, http.MethodPut, path+api, deployment("Perimeter", "mock", "1", "Standard", 5))
	if props(t, r)["provisioningState"] != "Accepted" || r.Header.Get("Azure-AsyncOperation") == "" {
		t.Errorf("deployment PUT: %s", r.Body)
	}
	e.WaitOperation(r.Header.Get("Location"))
	got := e.Must(http.StatusOK, http.MethodGet, path+api, nil)
	p := props(t, got)
	if p["provisioningState"] != "Succeeded" || p["currentCapacity"] != 5.0 || p["deploymentState"] != "Running" || p["raiPolicyName"] != "Microsoft.DefaultV2" {
		t.Errorf("deployment: %s", got.Body)
	}
	if caps := p["capabilities"].(map[string]any); caps["chatCompletion"] != "true" || caps["embeddings"] != "true" {
		t.Errorf("capabilities: %v", caps)
	}
	if rl := fmt.Sprint(p["rateLimits"]); rl != "[map[count:5000 key:token renewalPeriod:60]]" {
		t.Errorf("rateLimits: %s", rl)
	}
	if sku := got.JSON(t)["sku"].(map[string]any); sku["name"] != "Standard" || sku["capacity"] != 5.0 {
		t.Errorf("sku: %v", sku)
	}

	// Refused creates (fresh) and updates (path) write nothing.
	fresh := acct("dep") + "/deployments/fresh"
	tests := []struct {
		name string
		path string
		body map[string]any
		want refusal
	}{
		{"model not in the catalog", fresh, deployment("OpenAI", "gpt-5", "1", "Standard", 1), refusal{code: "DeploymentModelNotSupported", target: "properties.model", mention: "Perimeter/mock version 1"}},
		{"version not in the catalog", fresh, deployment("Perimeter", "mock", "2", "Standard", 1), refusal{code: "DeploymentModelNotSupported", target: "properties.model", mention: "version '2'"}},
		{"no model", fresh, map[string]any{"sku": map[string]any{"name": "Standard", "capacity": 1}}, refusal{code: "DeploymentModelRequired", target: "properties.model", mention: `"format": "Perimeter"`}},
		{"capacity zero", fresh, deployment("Perimeter", "mock", "1", "Standard", 0), refusal{code: "InvalidDeploymentCapacity", target: "sku.capacity", mention: "1 to 1000"}},
		{"capacity above the model's maximum", fresh, deployment("OpenAI", "gpt-4o-mini", "2024-07-18", "GlobalStandard", 51), refusal{code: "InvalidDeploymentCapacity", target: "sku.capacity", mention: "1 to 50 (thousands of tokens per minute)"}},
		{"capacity of the wrong type", fresh, deployment("Perimeter", "mock", "1", "Standard", "lots"), refusal{code: "InvalidRequestContent", target: "sku.capacity", mention: "integer"}},
		{"unknown SKU", fresh, deployment("Perimeter", "mock", "1", "Premium", 1), refusal{code: "InvalidDeploymentSku", target: "sku.name", mention: "'GlobalStandard'"}},
		{"no SKU", fresh, map[string]any{"properties": map[string]any{"model": map[string]any{"format": "Perimeter", "name": "mock", "version": "1"}}}, refusal{code: "DeploymentSkuRequired", target: "sku.name", mention: "capacity"}},
		{"model change", path, deployment("OpenAI", "gpt-4o-mini", "2024-07-18", "Standard", 1), refusal{code: "DeploymentModelChangeNotAllowed", target: "properties.model", mention: "'Perimeter/mock'"}},
		{"bad upgrade option", path, func() map[string]any {
			d := deployment("Perimeter", "mock", "1", "Standard", 1)
			d["properties"].(map[string]any)["versionUpgradeOption"] = "Always"
			return d
		}(), refusal{code: "InvalidVersionUpgradeOption", target: "properties.versionUpgradeOption", mention: "'NoAutoUpgrade'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.T = t
			e.expectRefused(tt.path, tt.body, tt.want)
		})
	}
	e.T = t

	// Capacity defaults to 10 capped by the model; the version may change
	// and defaults to the catalog's default version.
	other := acct("dep") + "/deployments/mini"
	r = e.put(http.StatusCreated, other, deployment("openai", "GPT-4o-mini", "", "globalstandard", nil))
	if m := props(t, r)["model"].(map[string]any); m["version"] != "2024-07-18" || m["format"] != "OpenAI" || m["name"] != "gpt-4o-mini" {
		t.Errorf("default version: %v", m)
	}
	if sku := r.JSON(t)["sku"].(map[string]any); sku["capacity"] != 10.0 || sku["name"] != "GlobalStandard" {
		t.Errorf("default capacity: %v", sku)
	}
	r = e.put(http.StatusOK, other, deployment("OpenAI", "gpt-4o-mini", "2025-01-01", "ProvisionedManaged", 50))
	if m := props(t, r)["model"].(map[string]any); m["version"] != "2025-01-01" {
		t.Errorf("version upgrade: %v", m)
	}
	if _, has := props(t, r)["rateLimits"]; has {
		t.Errorf("provisioned deployments have no token rate limit: %s", r.Body)
	}
	// PATCH of the sku (the SDK's BeginUpdate) keeps the model.
	pr := e.Must(http.StatusOK, http.MethodPatch, other+api, map[string]any{"sku": map[string]any{"capacity": 20}})
	e.WaitOperation(pr.Header.Get("Location"))
	if got := e.Must(http.StatusOK, http.MethodGet, other+api, nil); props(t, got)["currentCapacity"] != 20.0 {
		t.Errorf("after PATCH: %s", got.Body)
	}

	l := e.Must(http.StatusOK, http.MethodGet, acct("dep")+"/deployments"+api, nil)
	if strings.Count(string(l.Body), `"type":"Microsoft.CognitiveServices/accounts/deployments"`) != 2 {
		t.Errorf("list: %s", l.Body)
	}
	e.Must(http.StatusOK, http.MethodDelete, path+api, nil)
	e.Must(http.StatusNotFound, http.MethodGet, path+api, nil)

	// Only Foundry and OpenAI accounts have deployments.
	e.put(http.StatusCreated, acct("classic"), map[string]any{"location": "eastus", "kind": "CognitiveServices", "sku": map[string]any{"name": "S0"}})
	e.expectRefused(acct("classic")+"/deployments/dd", deployment("Perimeter", "mock", "1", "Standard", 1), refusal{code: "DeploymentsNotSupportedForKind", mention: "'AIServices' or 'OpenAI'"})
	e.Must(http.StatusNotFound, http.MethodPut, acct("missing")+"/deployments/dd"+api, deployment("Perimeter", "mock", "1", "Standard", 1))
}

func TestProjects(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("noproj"), account("noproj", nil))
	project := func(loc string) map[string]any {
		return map[string]any{"location": loc, "identity": map[string]any{"type": "SystemAssigned"}, "properties": map[string]any{"displayName": "p1", "description": "first"}}
	}
	e.expectRefused(acct("noproj")+"/projects/p1", project("eastus"), refusal{code: "ProjectManagementNotEnabled", mention: "allowProjectManagement to true"})

	e.put(http.StatusCreated, acct("foundry"), account("foundry-1", map[string]any{"allowProjectManagement": true}))
	e.expectRefused(acct("foundry")+"/projects/p1", project("westus"), refusal{code: "ProjectLocationMismatch", target: "location", mention: "'eastus'"})

	r := e.put(http.StatusCreated, acct("foundry")+"/projects/p1", project("East US"))
	p := props(t, r)
	if p["isDefault"] != true || p["displayName"] != "p1" || p["provisioningState"] != "Succeeded" {
		t.Errorf("first project: %s", r.Body)
	}
	if eps := p["endpoints"].(map[string]any); eps["AI Foundry API"] != "https://foundry-1.services.ai.perimeter.localhost:8444/api/projects/p1" || eps["OpenAI Language Model Instance API"] != "https://foundry-1.openai.perimeter.localhost:8444/" {
		t.Errorf("project endpoints: %v", eps)
	}
	if id := r.JSON(t)["identity"].(map[string]any); id["principalId"] == nil || id["tenantId"] != tenant {
		t.Errorf("project identity: %v", id)
	}
	r = e.put(http.StatusCreated, acct("foundry")+"/projects/p2", project("eastus"))
	if props(t, r)["isDefault"] != false {
		t.Errorf("second project is default: %s", r.Body)
	}
	// Projects cannot be turned off while they exist.
	e.expectRefused(acct("foundry"), account("foundry-1", map[string]any{"allowProjectManagement": false}),
		refusal{status: http.StatusConflict, code: "AccountHasProjects", mention: "Delete its projects first"})

	// Deleting the default project hands the default to the next project
	// written.
	del := e.Must(http.StatusAccepted, http.MethodDelete, acct("foundry")+"/projects/p1"+api, nil)
	e.WaitOperation(del.Header.Get("Location"))
	r = e.put(http.StatusOK, acct("foundry")+"/projects/p2", project("eastus"))
	if props(t, r)["isDefault"] != true {
		t.Errorf("p2 after the default was deleted: %s", r.Body)
	}
	l := e.Must(http.StatusOK, http.MethodGet, acct("foundry")+"/projects"+api, nil)
	if !strings.Contains(string(l.Body), `"name":"p2"`) || strings.Contains(string(l.Body), `"name":"p1"`) {
		t.Errorf("project list: %s", l.Body)
	}
	del = e.Must(http.StatusAccepted, http.MethodDelete, acct("foundry")+"/projects/p2"+api, nil)
	e.WaitOperation(del.Header.Get("Location"))
	e.put(http.StatusOK, acct("foundry"), account("foundry-1", map[string]any{"allowProjectManagement": false}))
}
