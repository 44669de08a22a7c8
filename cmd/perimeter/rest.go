package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// restOptions are the flags of `perimeter rest`.
type restOptions struct {
	method        string
	url           string
	body          string
	headers       []string
	uriParameters []string
	skipAuth      bool
}

func newRestCommand() *cobra.Command {
	var o restOptions
	cmd := &cobra.Command{
		Use:   "rest",
		Short: "Send a request to the control plane, as 'az rest' does",
		Long: `Send any request to the control plane with the profile's token, as 'az rest'
does. A URL starting with '/' is relative to the profile's endpoint, and
'{subscriptionId}' in it becomes the current subscription. The token is sent
only to the profile's endpoint. The response body is printed (JSON indented);
an error status prints the error and exits 1. Long-running operations are not
followed: the answer is the server's first one.`,
		Example: `  perimeter rest -u '/subscriptions/{subscriptionId}/resourcegroups?api-version=2025-04-01'
  perimeter rest -m put -u /subscriptions/{subscriptionId}/resourcegroups/demo --uri-parameters api-version=2025-04-01 -b '{"location":"eastus"}'
  perimeter rest -m put -u ... -b @group.json`,
	}
	g := addGlobalFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return runRest(cmd, g, &o, args) }
	f := cmd.Flags()
	f.StringVarP(&o.method, "method", "m", "get", "HTTP method: delete, get, head, options, patch, post or put")
	f.StringVarP(&o.url, "url", "u", "", "URL, or a path relative to the endpoint")
	f.StringVarP(&o.body, "body", "b", "", "request body; @FILE reads it from a file")
	f.StringArrayVar(&o.headers, "headers", nil, "space-separated headers: key=value [key=value ...], or a JSON object")
	f.StringArrayVar(&o.uriParameters, "uri-parameters", nil, "space-separated query parameters: key=value [key=value ...], or a JSON object")
	f.BoolVar(&o.skipAuth, "skip-authorization-header", false, "do not send the Authorization header")
	required(cmd, "url")
	return cmd
}

func runRest(cmd *cobra.Command, g *globals, o *restOptions, args []string) error {
	if err := trailingValues(cmd, args, map[string]*[]string{"headers": &o.headers, "uri-parameters": &o.uriParameters}); err != nil {
		return err
	}
	method := strings.ToUpper(o.method)
	switch method {
	case http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPatch, http.MethodPost, http.MethodPut:
	default:
		return usageErrorf("argument --method/-m: invalid choice: '%s' (choose from 'delete', 'get', 'head', 'options', 'patch', 'post', 'put')", o.method)
	}
	if u, err := url.Parse(o.url); err != nil || (!u.IsAbs() && !strings.HasPrefix(o.url, "/")) {
		return usageErrorf("argument --url/-u: '%s' is neither an absolute URL nor a path starting with '/'", o.url)
	}
	headers, err := keyValues("--headers", o.headers, false)
	if err != nil {
		return err
	}
	params, err := keyValues("--uri-parameters", o.uriParameters, false)
	if err != nil {
		return err
	}
	body := []byte(o.body)
	if file, ok := strings.CutPrefix(o.body, "@"); ok {
		if body, err = os.ReadFile(file); err != nil {
			return fmt.Errorf("read the body: %w", err)
		}
	}
	s, err := g.session(cmd)
	if err != nil {
		return err
	}
	r := &request{
		method: method,
		url:    strings.ReplaceAll(o.url, "{subscriptionId}", s.subscription),
		body:   body,
		header: http.Header{},
		query:  url.Values{},
		noAuth: o.skipAuth,
	}
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		r.header.Set(k, headers[k])
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		r.query.Set(k, params[k])
	}
	resp, err := s.client.send(cmd.Context(), r)
	if err != nil {
		return err
	}
	if ae := errorOf(resp); ae != nil {
		return ae
	}
	if len(resp.body) == 0 {
		return nil
	}
	if !json.Valid(resp.body) {
		_, err = cmd.OutOrStdout().Write(resp.body) // not JSON: as it came
		return err
	}
	return g.printBody(cmd, resp.body, nil)
}
