package main

import (
	"net/http"

	"github.com/spf13/cobra"
)

// csKeysView is the table of an account's keys.
func csKeysView() []field { return []field{at("Key1", "key1"), at("Key2", "key2")} }

// newCSKeysCommand is `cognitiveservices account keys`. The keys are
// printed on stdout, which is the point of `keys list`; nothing else
// prints or logs them.
func newCSKeysCommand(g *globals) *cobra.Command {
	cmd := groupCommand("keys", "Manage the access keys of an AI services account")
	cmd.AddCommand(csKeysList(g), csKeysRegenerate(g))
	return cmd
}

func csKeysList(g *globals) *cobra.Command {
	var name, group string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print the two access keys of an account",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPost, s.accountPath(group, name, "listKeys"), apiCognitive, nil, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csKeysView())
		},
	}
	accountFlags(cmd, &name, &group)
	return cmd
}

func csKeysRegenerate(g *globals) *cobra.Command {
	var name, group, keyName string
	cmd := &cobra.Command{
		Use:   "regenerate",
		Short: "Replace one access key of an account with a new one and print both",
		Long: `Replace one access key with a new random one; the other keeps working, so
clients can move to it first and the key is rotated without downtime.`,
		Example: "  perimeter cognitiveservices account keys regenerate -g demo -n ai1 --key-name Key2",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := choice("--key-name", keyName, "Key1", "Key2")
			if err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPost, s.accountPath(group, name, "regenerateKey"), apiCognitive, map[string]string{"keyName": key}, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csKeysView())
		},
	}
	accountFlags(cmd, &name, &group)
	cmd.Flags().StringVar(&keyName, "key-name", "", "the key to regenerate: Key1 or Key2")
	required(cmd, "key-name")
	return cmd
}
