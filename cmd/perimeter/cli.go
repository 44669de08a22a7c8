package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals are the arguments every CLI command accepts, as az's global
// arguments: the output format, the subscription and the profile.
type globals struct {
	output       string
	subscription string
	profile      string
}

// addGlobalFlags gives a top-level command (and so all its subcommands)
// the global flags, and makes flag mistakes usage errors (exit code 2)
// that are reported before anything is sent to the server.
func addGlobalFlags(cmd *cobra.Command) *globals {
	g := &globals{}
	f := cmd.PersistentFlags()
	f.StringVarP(&g.output, "output", "o", "json", "output format: json, jsonc, table, tsv or none")
	f.StringVar(&g.subscription, "subscription", "", "subscription id or name to use instead of the profile's")
	f.StringVar(&g.profile, "profile", "", "saved profile to use instead of the current one")
	cmd.PersistentPreRunE = g.check
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})
	return g
}

// check validates the global flags and the required flags of the command
// being run.
func (g *globals) check(cmd *cobra.Command, _ []string) error {
	switch g.output {
	case "json", "jsonc", "table", "tsv", "none":
	default:
		return usageErrorf("argument --output/-o: invalid choice: '%s' (choose from 'json', 'jsonc', 'none', 'table', 'tsv')", g.output)
	}
	if g.profile != "" {
		if err := checkProfileName(g.profile); err != nil {
			return err
		}
	}
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if ann := f.Annotations[cobra.BashCompOneRequiredFlag]; len(ann) > 0 && ann[0] == "true" && !f.Changed {
			missing = append(missing, flagDisplay(f))
		}
	})
	if len(missing) > 0 {
		return usageErrorf("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	return nil
}

// flagDisplay names a flag as az's messages do: --name/-n.
func flagDisplay(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "--" + f.Name + "/-" + f.Shorthand
	}
	return "--" + f.Name
}

// required marks flags that a command cannot run without.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(err) // a wiring mistake: the flag does not exist
		}
	}
}

// session is what a command that talks to the server works with.
type session struct {
	profile      *profile
	client       *client
	subscription string
}

// session opens the selected profile and a client for it. The
// subscription is --subscription when given (an id, or a name looked up on
// the server), else the profile's.
func (g *globals) session(cmd *cobra.Command) (*session, error) {
	p, c, err := g.openClient(cmd, false)
	if err != nil {
		return nil, err
	}
	s := &session{profile: p, client: c, subscription: p.SubscriptionID}
	if g.subscription != "" {
		s.subscription = g.subscription
		if !isGUID(g.subscription) {
			sub, err := c.findSubscription(cmd.Context(), g.subscription)
			if err != nil {
				return nil, err
			}
			s.subscription = sub.SubscriptionID
		}
	}
	return s, nil
}

// openClient loads the selected profile and makes a client for it, with
// tokens for the control plane or, with graph, for Microsoft Graph (each
// cached apart).
func (g *globals) openClient(cmd *cobra.Command, graph bool) (*profile, *client, error) {
	store, err := openProfileStore()
	if err != nil {
		return nil, nil, err
	}
	name, err := store.resolve(g.profile)
	if err != nil {
		return nil, nil, err
	}
	p, err := store.load(name)
	if err != nil {
		return nil, nil, err
	}
	scoped, cache := p, store.tokenCache(name)
	if graph {
		gp := *p
		gp.tokenScope = graphScope
		scoped, cache = &gp, store.graphTokenCache(name)
	}
	c, err := newClient(scoped, cmd.ErrOrStderr(), cache)
	if err != nil {
		return nil, nil, fmt.Errorf("profile %q: %w", name, err)
	}
	// Keep-alive connections serve the pages and polls of this command;
	// release them when it is over (it matters when commands run in a
	// longer-lived process, as in tests).
	context.AfterFunc(cmd.Context(), c.http.CloseIdleConnections)
	return p, c, nil
}

// subscriptionPath is /subscriptions/{id} followed by the given segments,
// each escaped.
func (s *session) subscriptionPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/subscriptions/" + url.PathEscape(s.subscription))
	for _, seg := range segments {
		b.WriteString("/" + url.PathEscape(seg))
	}
	return b.String()
}

// print writes a result in the selected output format.
func (g *globals) print(cmd *cobra.Command, v any, cols []column) error {
	return writeOutput(cmd.OutOrStdout(), g.output, v, cols)
}

// printBody prints a JSON response body (nothing when it is empty).
func (g *globals) printBody(cmd *cobra.Command, body []byte, cols []column) error {
	if len(body) == 0 {
		return nil
	}
	v, err := decodeValue(body)
	if err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	return g.print(cmd, v, cols)
}

// usageErrorf is a mistake in how the command was called: reported as az
// reports them, with exit code 2.
func usageErrorf(format string, args ...any) error {
	return &cliError{msg: "ERROR: " + fmt.Sprintf(format, args...), exit: 2}
}

// groupCommand is a command that only holds subcommands: alone it prints
// its help; with an unknown subcommand it is a usage error.
func groupCommand(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("'%s' is misspelled or not recognized by the system. See '%s --help'.", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// noArgs refuses positional arguments as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unrecognized arguments: %s", strings.Join(args, " "))
	}
	return nil
}

// trailingValues lets az's space-separated lists work: in
// `--tags a=b c=d`, "c=d" arrives as a positional argument and belongs to
// the one list flag that was given. Positional arguments with no list flag,
// or with several, are a usage error.
func trailingValues(cmd *cobra.Command, args []string, lists map[string]*[]string) error {
	if len(args) == 0 {
		return nil
	}
	var target *[]string
	given := 0
	for name, dst := range lists {
		if cmd.Flags().Changed(name) {
			target, given = dst, given+1
		}
	}
	if given != 1 {
		return usageErrorf("unrecognized arguments: %s", strings.Join(args, " "))
	}
	*target = append(*target, args...)
	return nil
}

// keyValues parses "key=value" arguments into a map. A single argument that
// is a JSON object is read as the map, as az accepts. bare allows "key"
// alone, meaning an empty value (tags).
func keyValues(flag string, items []string, bare bool) (map[string]string, error) {
	out := map[string]string{}
	if len(items) == 1 && strings.HasPrefix(strings.TrimSpace(items[0]), "{") {
		if err := json.Unmarshal([]byte(items[0]), &out); err != nil {
			return nil, usageErrorf("argument %s: not a JSON object of strings: %v", flag, err)
		}
		return out, nil
	}
	for _, it := range items {
		if it == "" {
			continue // --tags "" clears the tags, as in az
		}
		k, v, ok := strings.Cut(it, "=")
		if k == "" || (!ok && !bare) {
			return nil, usageErrorf("argument %s: '%s' is not in key=value form", flag, it)
		}
		out[k] = v
	}
	return out, nil
}

// confirm asks before a destructive operation, as az does. Without a
// terminal to ask on it refuses: a script has to say --yes.
func confirm(cmd *cobra.Command, yes bool) error {
	if yes {
		return nil
	}
	in := cmd.InOrStdin()
	if !isTerminal(in) {
		return usageErrorf("Unable to prompt for confirmation as no tty available. Use --yes.")
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Are you sure you want to perform this operation? (y/n): ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("operation cancelled")
}

// isTerminal reports whether v is an interactive terminal. Values that know
// (IsTerminal) are asked; files are terminals when they are character
// devices other than the null device.
func isTerminal(v any) bool {
	if t, ok := v.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }
