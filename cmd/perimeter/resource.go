package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/perimeterhq/perimeter/internal/providers/network"
)

// Helpers shared by the commands that manage resources (network,
// cognitiveservices): table views, conditional read-modify-write, flag
// aliases and list flags.

// field is one column of a table view: a header and how to compute the
// cell of an item, as az's table transformers do.
type field struct {
	header string
	value  func(item any) any
}

// at is a column showing the value at a dotted path of each item.
func at(header, path string) field {
	return field{header, func(it any) any { return lookup(it, path) }}
}

// joinedAt is a column showing the list at a dotted path of each item,
// its elements joined by ", "; sub, when not empty, picks a field of each
// element.
func joinedAt(header, path, sub string) field {
	return field{header, func(it any) any {
		list, _ := lookup(it, path).([]any)
		parts := make([]string, 0, len(list))
		for _, e := range list {
			if sub != "" {
				e = lookup(e, sub)
			}
			parts = append(parts, cell(e))
		}
		return strings.Join(parts, ", ")
	}}
}

// resourceGroupColumn shows the resource group named in each item's id, as
// az adds resourceGroup to what it prints.
func resourceGroupColumn() field {
	return field{"ResourceGroup", func(it any) any { return resourceGroupOf(stringAt(it, "id")) }}
}

// resourceGroupOf returns the resource group named in an ARM id, or "".
func resourceGroupOf(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "resourceGroups") {
			return segs[i+1]
		}
	}
	return ""
}

// stringAt reads a string at a dotted path of decoded JSON ("" when it
// is absent or not a string).
func stringAt(v any, path string) string {
	s, _ := lookup(v, path).(string)
	return s
}

// printView prints a result; table output shows the view's columns, every
// other format the result as it is.
func (g *globals) printView(cmd *cobra.Command, v any, view []field) error {
	if g.output != "table" {
		return g.print(cmd, v, nil)
	}
	items, isList := v.([]any)
	if !isList {
		items = []any{v}
	}
	rows := make([]any, 0, len(items))
	for _, it := range items {
		row := make(map[string]any, len(view))
		for _, f := range view {
			row[f.header] = f.value(it)
		}
		rows = append(rows, row)
	}
	cols := make([]column, len(view))
	for i, f := range view {
		cols[i] = column{header: f.header, path: f.header}
	}
	return g.print(cmd, rows, cols)
}

// printViewBody is printView for a JSON response body (nothing when it is
// empty, as after --no-wait).
func (g *globals) printViewBody(cmd *cobra.Command, body []byte, view []field) error {
	if len(body) == 0 {
		return nil
	}
	v, err := decodeValue(body)
	if err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	return g.printView(cmd, v, view)
}

// sessionCommand builds a command that runs with a session. The caller
// adds the flags run reads.
func sessionCommand(g *globals, use, short string, run func(cmd *cobra.Command, s *session) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			return run(cmd, s)
		},
	}
}

// showCommand builds a show command: GET the resource at path and print it
// with view. The caller adds the flags that path reads.
func showCommand(g *globals, short, api string, path func(s *session) string, view []field) *cobra.Command {
	return sessionCommand(g, "show", short, func(cmd *cobra.Command, s *session) error {
		resp, err := s.client.get(cmd.Context(), path(s), apiVersion(api))
		if err != nil {
			return err
		}
		return g.printViewBody(cmd, resp.body, view)
	})
}

// listCommand builds a list command: every page of the collection at path,
// printed with view. The caller adds the flags that path reads.
func listCommand(g *globals, short, api string, path func(s *session) string, view []field) *cobra.Command {
	return sessionCommand(g, "list", short, func(cmd *cobra.Command, s *session) error {
		items, err := s.client.list(cmd.Context(), path(s), apiVersion(api))
		if err != nil {
			return err
		}
		return g.printView(cmd, items, view)
	})
}

// deleteOptions are the flags a delete command offers beyond its path's.
type deleteOptions uint8

const (
	// askFirst prompts for confirmation unless --yes/-y.
	askFirst deleteOptions = 1 << iota
	// offerNoWait lets --no-wait return before the deletion is done.
	offerNoWait
)

// deleteCommand builds a delete command: DELETE the resource at path and
// wait until it is gone. The caller adds the flags that path reads.
func deleteCommand(g *globals, short, long, api string, opts deleteOptions, path func(s *session) string) *cobra.Command {
	var yes, noWait bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: short,
		Long:  long,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts&askFirst != 0 {
				if err := confirm(cmd, yes); err != nil {
					return err
				}
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			_, err = s.doJSON(cmd.Context(), http.MethodDelete, path(s), api, nil, noWait)
			return err
		},
	}
	if opts&askFirst != 0 {
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not prompt for confirmation")
	}
	if opts&offerNoWait != 0 {
		cmd.Flags().BoolVar(&noWait, "no-wait", false, "do not wait for the deletion to finish")
	}
	return cmd
}

// typePath is the collection of a resource type: in the resource group
// when group is given, else in the whole subscription.
func (s *session) typePath(group, namespace, typ string) string {
	if group == "" {
		return s.subscriptionPath("providers", namespace, typ)
	}
	return s.subscriptionPath("resourceGroups", group, "providers", namespace, typ)
}

// groupFilterFlag is a list command's optional -g/--resource-group.
func groupFilterFlag(cmd *cobra.Command, group *string) {
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "list only this resource group")
}

// doJSON is client.do of a request with a JSON body (none when body is
// nil) and the given api-version.
func (s *session) doJSON(ctx context.Context, method, path, api string, body any, noWait bool) (*response, error) {
	r := &request{method: method, url: path, query: apiVersion(api)}
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r.body = raw
	}
	return s.client.do(ctx, r, noWait)
}

// maxETagAttempts bounds the read-modify-write cycles of one change: each
// retry follows a concurrent change of the same resource (a resource that
// provisions asynchronously changes twice per write).
const maxETagAttempts = 10

// edit is a change to a resource read from the server: it receives the
// resource (decoded JSON) and returns the body to send, or nil when there
// is nothing to change.
type edit func(res map[string]any) (body any, err error)

// updateWithETag reads a resource, applies change and sends the result
// with method (PUT or PATCH) and If-Match on the ETag read, so that a
// concurrent change is never overwritten: when the write lost a race with
// another (see lostRace), the cycle starts again from a fresh read. It
// returns the final answer, or the read when change had nothing to send.
func (s *session) updateWithETag(ctx context.Context, method, path, api string, change edit, noWait bool) (*response, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.client.get(ctx, path, apiVersion(api))
		if err != nil {
			return nil, err
		}
		v, err := decodeValue(cur.body)
		if err != nil {
			return nil, fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		res, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the server's answer for %s is not a resource", path)
		}
		body, err := change(res)
		if err != nil {
			return nil, err
		}
		if body == nil {
			return cur, nil
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		etag := cur.header.Get("ETag")
		if etag == "" {
			etag, _ = res["etag"].(string)
		}
		r := &request{method: method, url: path, query: apiVersion(api), body: raw, header: http.Header{}}
		if etag != "" {
			r.header.Set("If-Match", etag)
		}
		resp, err := s.client.do(ctx, r, noWait)
		if !lostRace(err) || etag == "" || attempt == maxETagAttempts {
			return resp, err
		}
		// Changed since it was read: read it again, after a pause that
		// grows and is jittered so that racing writers fall out of step.
		backoff := time.Duration(attempt) * 50 * time.Millisecond
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// lostRace reports whether a conditional write was refused because the
// resource changed since it was read: 412 when the ETag no longer matched
// on arrival, 409 Conflict when another write committed while this one was
// being processed. Either way nothing was written.
func lostRace(err error) bool {
	var ae *armError
	return errors.As(err, &ae) &&
		(ae.Status == http.StatusPreconditionFailed || (ae.Status == http.StatusConflict && ae.Code == "Conflict"))
}

// flagAliases makes each alias another spelling of its flag, as az's
// option lists (--sku/--sku-name) do. The help shows the main name.
func flagAliases(cmd *cobra.Command, aliases map[string]string) {
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if main, ok := aliases[name]; ok {
			return pflag.NormalizedName(main)
		}
		return pflag.NormalizedName(name)
	})
}

// listValues cleans the values of a list flag: empty values are dropped,
// so `--flag ""` means the empty list, as in az.
func listValues(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// choice canonicalises an enum flag value (case-insensitive), or is a
// usage error naming the choices, as az's enum arguments are.
func choice(flag, value string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(a, value) {
			return a, nil
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	return "", usageErrorf("argument %s: invalid choice: '%s' (choose from %s)", flag, value, strings.Join(quoted, ", "))
}

// warnDockerBridge warns, az-style on stderr, about address prefixes that
// overlap Docker's default bridge network. Prefixes that do not parse are
// left to the server to refuse.
func warnDockerBridge(cmd *cobra.Command, what string, prefixes []string) {
	for _, text := range prefixes {
		p, err := netip.ParsePrefix(text)
		if err != nil || !network.OverlapsDockerBridge(p) {
			continue
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: The address prefix %s of %s overlaps 172.17.0.0/16, the default bridge network of Docker: "+
			"workloads in it that run next to Docker on one host reach the bridge instead of each other. Consider another range.\n", text, what)
	}
}
