package main

import (
	"net/http"

	"github.com/spf13/cobra"
)

// csDeploymentView is the table of model deployments.
func csDeploymentView() []field {
	return []field{
		at("Name", "name"), at("Model", "properties.model.name"), at("Version", "properties.model.version"),
		at("Sku", "sku.name"), at("Capacity", "sku.capacity"), at("State", "properties.provisioningState"),
	}
}

// newCSDeploymentCommand is `cognitiveservices account deployment`.
func newCSDeploymentCommand(g *globals) *cobra.Command {
	cmd := groupCommand("deployment", "Manage the model deployments of an AI services account")
	cmd.AddCommand(csDeploymentCreate(g), csDeploymentList(g), csDeploymentShow(g), csDeploymentDelete(g))
	return cmd
}

// deploymentFlags are the account's -n/--name and -g/--resource-group and
// --deployment-name, all required.
func deploymentFlags(cmd *cobra.Command, account, group, name *string) {
	accountFlags(cmd, account, group)
	cmd.Flags().StringVar(name, "deployment-name", "", "name of the deployment")
	required(cmd, "deployment-name")
}

func csDeploymentCreate(g *globals) *cobra.Command {
	var account, group, name, format, model, version, sku string
	var capacity int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Deploy a model of the catalog in an account",
		Long: `Deploy a model of the installation's catalog under a name, or update the
deployment if it exists, as 'az cognitiveservices account deployment create'
does. The catalog always has the built-in mock model: --model-format
Perimeter --model-name mock --model-version 1.

The SKU defaults to Standard (az sends none when --sku-name is not given;
Perimeter, like Azure, needs one). Capacity is in thousands of tokens per
minute for the Standard family and defaults to 10, capped by the model.
Unlike az, the command waits for the deployment to finish provisioning.`,
		Example: `  perimeter cognitiveservices account deployment create -g demo -n ai1 --deployment-name chat \
      --model-format Perimeter --model-name mock --model-version 1 --sku-capacity 5`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			skuBody := map[string]any{"name": sku}
			if cmd.Flags().Changed("sku-capacity") {
				if capacity < 1 {
					return usageErrorf("argument --sku-capacity: must be a positive integer")
				}
				skuBody["capacity"] = capacity
			}
			body := map[string]any{
				"sku":        skuBody,
				"properties": map[string]any{"model": map[string]any{"format": format, "name": model, "version": version}},
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, s.accountPath(group, account, "deployments", name), apiCognitive, body, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csDeploymentView())
		},
	}
	deploymentFlags(cmd, &account, &group, &name)
	f := cmd.Flags()
	f.StringVar(&format, "model-format", "", "format of the model, e.g. Perimeter or OpenAI")
	f.StringVar(&model, "model-name", "", "name of the model, e.g. mock")
	f.StringVar(&version, "model-version", "", "version of the model, e.g. 1")
	f.StringVar(&sku, "sku-name", "Standard", "deployment SKU, e.g. Standard or GlobalStandard (also --sku)")
	f.IntVar(&capacity, "sku-capacity", 0, "capacity (also --capacity): thousands of tokens per minute for Standard SKUs")
	flagAliases(cmd, map[string]string{"sku": "sku-name", "capacity": "sku-capacity"})
	required(cmd, "model-format", "model-name", "model-version")
	return cmd
}

func csDeploymentList(g *globals) *cobra.Command {
	var account, group string
	cmd := listCommand(g, "List the model deployments of an account", apiCognitive,
		func(s *session) string { return s.accountPath(group, account, "deployments") }, csDeploymentView())
	accountFlags(cmd, &account, &group)
	return cmd
}

func csDeploymentShow(g *globals) *cobra.Command {
	var account, group, name string
	cmd := showCommand(g, "Show a model deployment", apiCognitive,
		func(s *session) string { return s.accountPath(group, account, "deployments", name) }, csDeploymentView())
	deploymentFlags(cmd, &account, &group, &name)
	return cmd
}

func csDeploymentDelete(g *globals) *cobra.Command {
	var account, group, name string
	cmd := deleteCommand(g, "Delete a model deployment",
		"Delete a model deployment, as 'az cognitiveservices account deployment delete' does (without asking).", apiCognitive,
		offerNoWait, func(s *session) string { return s.accountPath(group, account, "deployments", name) })
	deploymentFlags(cmd, &account, &group, &name)
	return cmd
}
