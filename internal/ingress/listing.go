package ingress

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// The listings in the shapes of Azure OpenAI's data plane
// (GET /openai/deployments, GET /openai/models).
type (
	deploymentList struct {
		Object string           `json:"object"`
		Data   []deploymentItem `json:"data"`
	}
	deploymentItem struct {
		Object        string `json:"object"`
		ID            string `json:"id"`
		Model         string `json:"model"`
		Owner         string `json:"owner"`
		Status        string `json:"status"`
		ScaleSettings struct {
			ScaleType string `json:"scale_type"`
		} `json:"scale_settings"`
	}
	modelList struct {
		Object string      `json:"object"`
		Data   []modelItem `json:"data"`
	}
	modelItem struct {
		Object          string          `json:"object"`
		ID              string          `json:"id"`
		Status          string          `json:"status"`
		LifecycleStatus string          `json:"lifecycle_status"`
		Capabilities    modelCapability `json:"capabilities"`
	}
	modelCapability struct {
		FineTune       bool     `json:"fine_tune"`
		Inference      bool     `json:"inference"`
		Completion     bool     `json:"completion"`
		ChatCompletion bool     `json:"chat_completion"`
		Embeddings     bool     `json:"embeddings"`
		ScaleTypes     []string `json:"scale_types"`
	}
)

// list answers a listing of the account's deployments or their models.
func (g *Gateway) list(w http.ResponseWriter, x *exchange, op *operation) error {
	deps := make([]*snapshot.Deployment, 0, len(x.account.Deployments))
	for _, d := range x.account.Deployments {
		deps = append(deps, d)
	}
	slices.SortFunc(deps, func(a, b *snapshot.Deployment) int { return strings.Compare(a.Name, b.Name) })
	var v any
	switch op.List {
	case listDeployments:
		l := deploymentList{Object: "list", Data: []deploymentItem{}}
		for _, d := range deps {
			it := deploymentItem{Object: "deployment", ID: d.Name, Model: d.Model.Name, Owner: "organization-owner", Status: deploymentStatus(d)}
			it.ScaleSettings.ScaleType = "standard"
			l.Data = append(l.Data, it)
		}
		v = l
	default:
		l := modelList{Object: "list", Data: []modelItem{}}
		seen := map[string]bool{}
		for _, d := range deps {
			m := d.Model
			if m.Name == "" || seen[strings.ToLower(m.Name)] {
				continue
			}
			seen[strings.ToLower(m.Name)] = true
			l.Data = append(l.Data, modelItem{Object: "model", ID: m.Name, Status: "succeeded", LifecycleStatus: "generally-available",
				Capabilities: modelCapability{
					Inference: true, ScaleTypes: []string{"standard"},
					Completion:     slices.Contains(m.Capabilities, models.Completion),
					ChatCompletion: slices.Contains(m.Capabilities, models.ChatCompletion),
					Embeddings:     slices.Contains(m.Capabilities, models.Embeddings),
				}})
		}
		v = l
	}
	body, err := json.Marshal(v)
	if err != nil {
		return internalError(err)
	}
	h := w.Header()
	setCommonHeaders(h, x.ids)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

func deploymentStatus(d *snapshot.Deployment) string {
	switch {
	case d.Ready:
		return "succeeded"
	case d.Model.Name == "":
		return "failed" // its model is not in the catalog
	}
	return "running"
}
