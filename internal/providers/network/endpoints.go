package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// ServiceCognitiveServices is the service endpoint an AI services account's
// virtual network rule requires on its subnet.
const ServiceCognitiveServices = "Microsoft.CognitiveServices"

// serviceNames are the service endpoint services accepted, in Azure's
// casing.
func serviceNames() []string {
	return []string{
		ServiceCognitiveServices, "Microsoft.Storage", "Microsoft.KeyVault", "Microsoft.Sql",
		"Microsoft.AzureCosmosDB", "Microsoft.ServiceBus", "Microsoft.EventHub", "Microsoft.Web",
		"Microsoft.ContainerRegistry", "Microsoft.AzureActiveDirectory",
	}
}

// canonicalService returns a known service name in Azure's casing.
func canonicalService(name string) (string, bool) {
	for _, s := range serviceNames() {
		if strings.EqualFold(s, name) {
			return s, true
		}
	}
	return "", false
}

// defaultEndpointLocations are the locations Azure fills in when a request
// leaves them out: the virtual network's region for the regional services,
// every region ("*") for the others.
func defaultEndpointLocations(service, vnetLocation string) []string {
	switch service {
	case "Microsoft.Storage", "Microsoft.Sql":
		if vnetLocation != "" {
			return []string{vnetLocation}
		}
	}
	return []string{"*"}
}

// SubnetServiceEndpoints reads the stored subnet with id subnetID and
// returns the services of its service endpoints (canonical casing, such as
// ServiceCognitiveServices). found is false when no subnet has that id.
// Providers whose resources admit traffic from subnets (account
// virtualNetworkRules) use it to check that the subnet has the endpoint.
func SubnetServiceEndpoints(ctx context.Context, st store.Store, subnetID string) (services []string, found bool, err error) {
	doc, err := st.Get(ctx, subnetID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read subnet %s: %w", subnetID, err)
	}
	if !strings.EqualFold(doc.Type, TypeSubnets) {
		return nil, false, nil
	}
	var res arm.Resource
	if err := json.Unmarshal(doc.Body, &res); err != nil {
		return nil, false, fmt.Errorf("stored subnet %s: %w", subnetID, err)
	}
	var p subnetProperties
	if err := json.Unmarshal(res.Properties, &p); err != nil {
		return nil, false, fmt.Errorf("properties of stored subnet %s: %w", subnetID, err)
	}
	services = make([]string, 0, len(p.ServiceEndpoints))
	for _, se := range p.ServiceEndpoints {
		services = append(services, se.Service)
	}
	return services, true, nil
}
