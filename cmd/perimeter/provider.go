package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// providerView is the table of resource providers.
func providerView() []field {
	return []field{at("Namespace", "namespace"), at("RegistrationState", "registrationState"), at("RegistrationPolicy", "registrationPolicy")}
}

func newProviderCommand() *cobra.Command {
	cmd := groupCommand("provider", "Manage resource provider registration in the subscription")
	g := addGlobalFlags(cmd)
	cmd.AddCommand(
		providerRegistration(g, "register", "Register a resource provider namespace in the subscription", "Registering"),
		providerRegistration(g, "unregister", "Unregister a resource provider namespace from the subscription", "Unregistering"),
		providerShow(g), providerList(g))
	return cmd
}

// providerRegistration is `provider register` or `provider unregister`.
// Like az it prints nothing; without --wait it says when the change is
// still under way.
func providerRegistration(g *globals, action, short, ongoing string) *cobra.Command {
	var ns string
	var wait bool
	cmd := sessionCommand(g, action, short, func(cmd *cobra.Command, s *session) error {
		v, err := s.client.registerProvider(cmd.Context(), s.subscription, ns, action, wait)
		if err != nil {
			return err
		}
		state, _ := lookup(v, "registrationState").(string)
		if !wait && state != "Registered" && state != "Unregistered" && state != "NotRegistered" {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s is still on-going. You can monitor using 'perimeter provider show -n %s'\n", ongoing, ns)
		}
		return nil
	})
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "resource provider namespace, e.g. Microsoft.CognitiveServices")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the change is done")
	required(cmd, "namespace")
	return cmd
}

func providerShow(g *globals) *cobra.Command {
	var ns string
	cmd := showCommand(g, "Show a resource provider and its registration state", apiResources,
		func(s *session) string { return s.subscriptionPath("providers", ns) }, providerView())
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "resource provider namespace")
	required(cmd, "namespace")
	return cmd
}

func providerList(g *globals) *cobra.Command {
	return listCommand(g, "List the resource providers and their registration state", apiResources,
		func(s *session) string { return s.subscriptionPath("providers") }, providerView())
}
