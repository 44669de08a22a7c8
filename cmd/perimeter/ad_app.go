package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// `perimeter ad app`: applications and their federated identity
// credentials, which let a workload sign in with its own identity
// provider's token instead of a secret (az ad app federated-credential).

func newADAppCommand(g *globals) *cobra.Command {
	app := groupCommand("app", "Manage applications")
	fic := groupCommand("federated-credential", "Manage the federated identity credentials of an application (workload identity federation)")
	fic.AddCommand(adFICCreate(g), adFICList(g), adFICShow(g), adFICDelete(g))
	app.AddCommand(adAppCreate(g), adAppList(g), adAppShow(g), adAppUpdate(g), fic)
	return app
}

func appColumns() []column {
	return []column{{"DisplayName", "displayName"}, {"AppId", "appId"}, {"Id", "id"}}
}

func ficColumns() []column {
	return []column{{"Name", "name"}, {"Issuer", "issuer"}, {"Subject", "subject"}, {"Id", "id"}}
}

func adAppCreate(g *globals) *cobra.Command {
	var name, public string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an application (no secret: add a federated credential, or use 'ad sp create-for-rbac')",
		Long: `Create an application. It signs in once it has a service principal
('perimeter ad sp create --id APPID') and a credential: a federated identity
credential ('perimeter ad app federated-credential create'), or a secret.`,
		Example: "  perimeter ad app create --display-name ci-deployer",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]any{"displayName": name}
			if err := putBoolFlag(body, "isFallbackPublicClient", "is-fallback-public-client", public); err != nil {
				return err
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			return gc.createAndPrint(cmd, g, "/v1.0/applications", body, appColumns())
		},
	}
	cmd.Flags().StringVar(&name, "display-name", "", "the application's name")
	cmd.Flags().StringVar(&public, "is-fallback-public-client", "", "true or false: whether users may sign in through it without its secret (public client flows), as az takes it")
	required(cmd, "display-name")
	return cmd
}

func adAppUpdate(g *globals) *cobra.Command {
	var id, name, public string
	cmd := &cobra.Command{
		Use:     "update",
		Short:   "Update an application: its name, whether users may sign in through it without its secret",
		Example: "  perimeter ad app update --id APPID --is-fallback-public-client true",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("display-name") {
				body["displayName"] = name
			}
			if err := putBoolFlag(body, "isFallbackPublicClient", "is-fallback-public-client", public); err != nil {
				return err
			}
			if len(body) == 0 {
				return usageErrorf("nothing to update: give --display-name or --is-fallback-public-client")
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			app, err := gc.application(cmd.Context(), id)
			if err != nil {
				return err
			}
			objectID, _ := app["id"].(string)
			_, err = gc.call(cmd.Context(), http.MethodPatch, "/v1.0/applications/"+url.PathEscape(objectID), nil, body)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "appId or object id")
	f.StringVar(&name, "display-name", "", "the application's new name")
	f.StringVar(&public, "is-fallback-public-client", "", "true or false: whether users may sign in through it without its secret")
	required(cmd, "id")
	return cmd
}

func adAppList(g *globals) *cobra.Command {
	return adList(g, "List applications", "/v1.0/applications", appColumns(), "appId eq '...'")
}

// application finds an application by appId or object id.
func (gc *graphClient) application(ctx context.Context, id string) (map[string]any, error) {
	return gc.byAppIDOrObjectID(ctx, "applications", "application", id)
}

func appRef() adRef { return adRef{"id", "", "appId or object id of the application"} }

// ficPath is the collection of the application's federated identity
// credentials.
func (gc *graphClient) ficPath(ctx context.Context, appRef string) (string, error) {
	app, err := gc.application(ctx, appRef)
	if err != nil {
		return "", err
	}
	objectID, _ := app["id"].(string)
	return "/v1.0/applications/" + url.PathEscape(objectID) + "/federatedIdentityCredentials", nil
}

func adAppShow(g *globals) *cobra.Command {
	return adShow(g, "Show an application", appRef(), (*graphClient).application, appColumns())
}

// ficParameters reads --parameters: a JSON object, or @FILE holding one,
// as az takes it.
func ficParameters(value string) (map[string]any, error) {
	if value == "" {
		return map[string]any{}, nil
	}
	raw := []byte(value)
	if file, ok := strings.CutPrefix(value, "@"); ok {
		var err error
		if raw, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("read --parameters: %w", err)
		}
	}
	var params map[string]any
	if err := json.Unmarshal(raw, &params); err != nil || params == nil {
		return nil, usageErrorf("argument --parameters: give a JSON object such as '{\"name\": \"ci\", \"issuer\": \"https://...\", \"subject\": \"...\"}', or @FILE holding one")
	}
	return params, nil
}

func adFICCreate(g *globals) *cobra.Command {
	var id, parameters, name, issuer, subject, description string
	var audiences []string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Trust tokens of an external identity provider for an application",
		Long: `Add a federated identity credential: the application then accepts, instead of
a secret, a token from the OpenID Connect issuer --issuer whose subject is
--subject and whose audience includes --audiences (default
api://AzureADTokenExchange). Perimeter fetches the issuer's keys from
{issuer}/.well-known/openid-configuration.

The properties come from the flags, or from --parameters as az takes them; a
flag overrides the same property in --parameters.`,
		Example: `  perimeter ad app federated-credential create --id APPID --name github-main \
    --issuer https://token.actions.githubusercontent.com \
    --subject repo:contoso/app:ref:refs/heads/main
  perimeter ad app federated-credential create --id APPID --parameters @credential.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := ficParameters(parameters)
			if err != nil {
				return err
			}
			for flag, v := range map[string]string{"name": name, "issuer": issuer, "subject": subject, "description": description} {
				if cmd.Flags().Changed(flag) {
					body[flag] = v
				}
			}
			if cmd.Flags().Changed("audiences") {
				body["audiences"] = audiences
			}
			var missing []string
			for _, p := range []string{"name", "issuer", "subject"} {
				if _, ok := body[p]; !ok {
					missing = append(missing, "--"+p)
				}
			}
			if len(missing) > 0 {
				return usageErrorf("the following arguments are required: %s (or give them in --parameters)", strings.Join(missing, ", "))
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			path, err := gc.ficPath(cmd.Context(), id)
			if err != nil {
				return err
			}
			return gc.createAndPrint(cmd, g, path, body, ficColumns())
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "appId or object id of the application")
	f.StringVar(&name, "name", "", "name of the credential, unique in the application: 3 to 120 letters, digits, '-' or '_'")
	f.StringVar(&issuer, "issuer", "", "https URL of the identity provider: the 'iss' of its tokens")
	f.StringVar(&subject, "subject", "", "the 'sub' of the workload's tokens, e.g. repo:contoso/app:ref:refs/heads/main")
	f.StringSliceVar(&audiences, "audiences", nil, "the audience the tokens carry (default api://AzureADTokenExchange)")
	f.StringVar(&description, "description", "", "what the credential is for")
	f.StringVar(&parameters, "parameters", "", "the properties as JSON ({\"name\", \"issuer\", \"subject\", \"audiences\", \"description\"}), or @FILE")
	required(cmd, "id")
	return cmd
}

func adFICList(g *globals) *cobra.Command {
	return adObjectCommand(g, "list", "List the federated identity credentials of an application", appRef(),
		func(cmd *cobra.Command, gc *graphClient, id string) error {
			path, err := gc.ficPath(cmd.Context(), id)
			if err != nil {
				return err
			}
			items, err := gc.list(cmd.Context(), path, nil)
			if err != nil {
				return err
			}
			return g.print(cmd, items, ficColumns())
		})
}

// ficCommand is show or delete: --id and --federated-credential-id (the
// credential's id or name, as az takes it).
func ficCommand(g *globals, use, short string, run func(cmd *cobra.Command, gc *graphClient, path string) error) *cobra.Command {
	var fic string
	cmd := adObjectCommand(g, use, short, appRef(), func(cmd *cobra.Command, gc *graphClient, id string) error {
		path, err := gc.ficPath(cmd.Context(), id)
		if err != nil {
			return err
		}
		return run(cmd, gc, path+"/"+url.PathEscape(fic))
	})
	cmd.Flags().StringVar(&fic, "federated-credential-id", "", "id or name of the federated identity credential")
	required(cmd, "federated-credential-id")
	return cmd
}

func adFICShow(g *globals) *cobra.Command {
	return ficCommand(g, "show", "Show a federated identity credential of an application",
		func(cmd *cobra.Command, gc *graphClient, path string) error {
			return gc.printGet(cmd, g, path, ficColumns())
		})
}

func adFICDelete(g *globals) *cobra.Command {
	return ficCommand(g, "delete", "Delete a federated identity credential: the application stops trusting those tokens",
		func(cmd *cobra.Command, gc *graphClient, path string) error {
			_, err := gc.call(cmd.Context(), http.MethodDelete, path, nil, nil)
			return err
		})
}
