package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "perimeter",
		Short:         "Network security for AI model endpoints, driven like Azure Resource Manager",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand())
	root.AddCommand(newLoginCommand(), newLogoutCommand(), newAccountCommand(),
		newGroupCommand(), newProviderCommand(), newFeatureCommand(), newRestCommand())
	return root
}
