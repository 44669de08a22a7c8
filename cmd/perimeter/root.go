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
		// A bare or mistyped command is a usage error (exit 2), as with az.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("'%s' is not a perimeter command. See 'perimeter --help'.", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	root.AddCommand(newServeCommand())
	root.AddCommand(newLoginCommand(), newLogoutCommand(), newAccountCommand(),
		newGroupCommand(), newProviderCommand(), newFeatureCommand(), newRestCommand(),
		newNetworkCommand(), newCognitiveServicesCommand(), newLogsCommand(), newADCommand(),
		newIdentityCommand(), newRoleCommand())
	return root
}
