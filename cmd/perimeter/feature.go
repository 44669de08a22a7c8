package main

import (
	"net/http"

	"github.com/spf13/cobra"
)

// featureView is the table of preview features; the name already reads
// "Namespace/Feature".
func featureView() []field {
	return []field{at("Name", "name"), at("State", "properties.state")}
}

// registrationView is the table of subscription feature registrations.
func registrationView() []field {
	return []field{at("Name", "name"), at("ProviderNamespace", "properties.providerNamespace"), at("State", "properties.state")}
}

func newFeatureCommand() *cobra.Command {
	cmd := groupCommand("feature", "Manage preview features of the subscription")
	g := addGlobalFlags(cmd)
	registration := groupCommand("registration", "Manage subscription feature registrations (subscriptionFeatureRegistrations)")
	registration.AddCommand(registrationCreate(g), registrationShow(g), registrationList(g), registrationDelete(g))
	cmd.AddCommand(
		featureAction(g, "register", "Register a preview feature"),
		featureAction(g, "unregister", "Unregister a preview feature"),
		featureShow(g), featureList(g), registration)
	return cmd
}

// featureFlags are --namespace and --name/-n, both required.
func featureFlags(cmd *cobra.Command, ns, name *string) {
	cmd.Flags().StringVar(ns, "namespace", "", "resource provider namespace, e.g. Microsoft.CognitiveServices")
	cmd.Flags().StringVarP(name, "name", "n", "", "feature name, e.g. OpenAI.NspPreview")
	required(cmd, "namespace", "name")
}

// featurePath is the Microsoft.Features/providers/{ns}/features API that
// `az feature` uses.
func (s *session) featurePath(ns string, rest ...string) string {
	return s.subscriptionPath(append([]string{"providers", "Microsoft.Features", "providers", ns, "features"}, rest...)...)
}

// registrationPath is a subscriptionFeatureRegistration, the API of
// `az feature registration`.
func (s *session) registrationPath(ns string, rest ...string) string {
	return s.subscriptionPath(append([]string{"providers", "Microsoft.Features", "featureProviders", ns, "subscriptionFeatureRegistrations"}, rest...)...)
}

// featureAction is `feature register` or `feature unregister`.
func featureAction(g *globals, action, short string) *cobra.Command {
	var ns, name string
	cmd := sessionCommand(g, action, short, func(cmd *cobra.Command, s *session) error {
		resp, err := s.client.do(cmd.Context(), &request{method: http.MethodPost, url: s.featurePath(ns, name, action), query: apiVersion(apiFeatures)}, false)
		if err != nil {
			return err
		}
		return g.printViewBody(cmd, resp.body, featureView())
	})
	featureFlags(cmd, &ns, &name)
	return cmd
}

func featureShow(g *globals) *cobra.Command {
	var ns, name string
	cmd := showCommand(g, "Show a preview feature and whether it is registered", apiFeatures,
		func(s *session) string { return s.featurePath(ns, name) }, featureView())
	featureFlags(cmd, &ns, &name)
	return cmd
}

func featureList(g *globals) *cobra.Command {
	var ns string
	cmd := listCommand(g, "List preview features, of one namespace with --namespace", apiFeatures, func(s *session) string {
		if ns == "" {
			return s.subscriptionPath("providers", "Microsoft.Features", "features")
		}
		return s.featurePath(ns)
	}, featureView())
	namespaceFilterFlag(cmd, &ns)
	return cmd
}

// namespaceFilterFlag is a list command's optional --namespace.
func namespaceFilterFlag(cmd *cobra.Command, ns *string) {
	cmd.Flags().StringVar(ns, "namespace", "", "list only this resource provider namespace")
}

func registrationCreate(g *globals) *cobra.Command {
	var ns, name string
	cmd := sessionCommand(g, "create", "Register a preview feature by creating its subscription feature registration",
		func(cmd *cobra.Command, s *session) error {
			resp, err := s.client.do(cmd.Context(), &request{method: http.MethodPut, url: s.registrationPath(ns, name), query: apiVersion(apiFeatures), body: []byte(`{"properties":{}}`)}, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, registrationView())
		})
	featureFlags(cmd, &ns, &name)
	return cmd
}

func registrationShow(g *globals) *cobra.Command {
	var ns, name string
	cmd := showCommand(g, "Show a subscription feature registration", apiFeatures,
		func(s *session) string { return s.registrationPath(ns, name) }, registrationView())
	featureFlags(cmd, &ns, &name)
	return cmd
}

func registrationList(g *globals) *cobra.Command {
	var ns string
	cmd := listCommand(g, "List the subscription's feature registrations, of one namespace with --namespace", apiFeatures, func(s *session) string {
		if ns == "" {
			return s.subscriptionPath("providers", "Microsoft.Features", "subscriptionFeatureRegistrations")
		}
		return s.registrationPath(ns)
	}, registrationView())
	namespaceFilterFlag(cmd, &ns)
	return cmd
}

func registrationDelete(g *globals) *cobra.Command {
	var ns, name string
	cmd := deleteCommand(g, "Unregister a preview feature by deleting its subscription feature registration", "", apiFeatures,
		askFirst, func(s *session) string { return s.registrationPath(ns, name) })
	featureFlags(cmd, &ns, &name)
	return cmd
}
