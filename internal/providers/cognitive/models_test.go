package cognitive_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestModelListings(t *testing.T) {
	e := newEnv(t)
	var loc struct {
		Value []struct {
			Kind, SKUName string
			Model         struct {
				Format, Name, Version string
				IsDefaultVersion      bool
				MaxCapacity           int
				SKUs                  []struct {
					Name     string
					Capacity struct{ Minimum, Maximum, Default int }
				}
			}
		}
	}
	r := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/locations/eastus/models"+api, nil)
	if err := json.Unmarshal(r.Body, &loc); err != nil {
		t.Fatal(err)
	}
	// The mock is always there, for both kinds that deploy models.
	mock := 0
	for _, v := range loc.Value {
		m := v.Model
		if m.Format == "Perimeter" && m.Name == "mock" && m.Version == "1" && m.IsDefaultVersion && m.MaxCapacity == 1000 {
			mock++
		}
		if m.Name == "gpt-4o-mini" && m.IsDefaultVersion != (m.Version == "2024-07-18") {
			t.Errorf("isDefaultVersion of %s: %v", m.Version, m.IsDefaultVersion)
		}
		if len(m.SKUs) == 0 || m.SKUs[0].Capacity.Maximum != m.MaxCapacity || m.SKUs[0].Capacity.Minimum != 1 {
			t.Errorf("skus of %s/%s: %+v", m.Format, m.Name, m.SKUs)
		}
	}
	if mock != 2 || len(loc.Value) != 6 {
		t.Errorf("location models: %d entries, mock listed %d times: %s", len(loc.Value), mock, r.Body)
	}
	e.Must(http.StatusNotFound, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/locations/atlantis/models"+api, nil)
	e.Must(http.StatusBadRequest, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/locations/eastus/models?api-version=1999-01-01", nil)

	// An account lists what it can deploy.
	e.put(http.StatusCreated, acct("models"), account("models-test", nil))
	var am struct {
		Value []struct{ Format, Name, Version string }
	}
	_ = json.Unmarshal(e.Must(http.StatusOK, http.MethodGet, acct("models")+"/models"+api, nil).Body, &am)
	if len(am.Value) != 3 || am.Value[0].Format != "Perimeter" || am.Value[0].Name != "mock" {
		t.Errorf("account models: %+v", am.Value)
	}
	e.put(http.StatusCreated, acct("classic"), map[string]any{"location": "eastus", "kind": "Face", "sku": map[string]any{"name": "F0"}})
	if r := e.Must(http.StatusOK, http.MethodGet, acct("classic")+"/models"+api, nil); string(r.Body) != `{"value":[]}` {
		t.Errorf("a kind without deployments lists models: %s", r.Body)
	}
	e.Must(http.StatusNotFound, http.MethodGet, acct("missing")+"/models"+api, nil)
}
