package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/providers/diagnostics"
)

// logsView is the table of access log records.
func logsView() []field {
	return []field{
		{"Time", func(it any) any { return tableTime(stringAt(it, "time")) }},
		at("Result", "result"),
		at("Source", "sourceIp"),
		at("Path", "arrivalPath"),
		{"Resource", func(it any) any { return lastSegment(stringAt(it, "resourceId")) }},
		at("Deployment", "deployment"),
		at("Layer", "layer"),
		at("Rule", "rule"),
		at("Status", "status"),
	}
}

// tableTime shortens a record's time to milliseconds for the table, which
// has little room; JSON output keeps it whole.
func tableTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// lastSegment is the name at the end of an ARM id.
func lastSegment(id string) string {
	id = strings.TrimSuffix(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

// newLogsCommand is `perimeter logs`: the access log of the data planes.
func newLogsCommand() *cobra.Command {
	cmd := groupCommand("logs", "Read the access log: every allow and deny decision of the data planes")
	g := addGlobalFlags(cmd)
	cmd.AddCommand(logsQuery(g))
	return cmd
}

func logsQuery(g *globals) *cobra.Command {
	var resource, result, rule, source, host, deployment, since, until string
	var top int
	var before int64
	cmd := &cobra.Command{
		Use:   "query",
		Short: "List access log records of the subscription, newest first",
		Long: `List access log records of the subscription, newest first.

Filters combine: --resource keeps the records of a resource and of what lies
below it (an account and its projects; a resource group and its resources).
--since and --until take a duration back from now (90s, 15m, 1h, 7d) or an
RFC 3339 time. Without --top, the server returns 100 records; page back with
--before SEQ, the seq of the last record printed.

Reading the log takes Perimeter.Diagnostics/accessLogs/read (Reader has it):
at the subscription for every record, or on a resource group or resource for
the records of what lies there.`,
		Example: `  perimeter logs query --result Denied --since 1h
  perimeter logs query --resource /subscriptions/{s}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a -o table
  perimeter logs query --source 10.0.0.0/8 --rule ipRules --top 20`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := apiVersion(diagnostics.APIVersion)
			f := cmd.Flags()
			if resource != "" {
				if !strings.HasPrefix(strings.ToLower(resource), "/subscriptions/") {
					return usageErrorf("argument --resource: '%s' is not a resource id: use /subscriptions/{id}/resourceGroups/{group}/...", resource)
				}
				q.Set("resourceId", resource)
			}
			if f.Changed("result") {
				v, err := choice("--result", result, accesslog.Allowed, accesslog.Denied)
				if err != nil {
					return err
				}
				q.Set("result", v)
			}
			if rule != "" {
				q.Set("rule", rule)
			}
			if source != "" {
				if _, _, err := accesslog.SourceRange(source); err != nil {
					return usageErrorf("argument --source: '%s' is not an IP address or CIDR, such as 203.0.113.7 or 10.0.0.0/8", source)
				}
				q.Set("source", strings.TrimSpace(source))
			}
			if host != "" {
				q.Set("host", host)
			}
			if deployment != "" {
				q.Set("deployment", deployment)
			}
			now := time.Now()
			for _, t := range []struct{ flag, value, param string }{{"--since", since, "from"}, {"--until", until, "to"}} {
				if t.value == "" {
					continue
				}
				at, err := parseWhen(t.value, now)
				if err != nil {
					return usageErrorf("argument %s: %v", t.flag, err)
				}
				q.Set(t.param, at.UTC().Format(time.RFC3339Nano))
			}
			if f.Changed("top") {
				if top < 1 || top > accesslog.MaxLimit {
					return usageErrorf("argument --top: use an integer from 1 to %d", accesslog.MaxLimit)
				}
				q.Set("$top", strconv.Itoa(top))
			}
			if f.Changed("before") {
				if before < 1 {
					return usageErrorf("argument --before: use the seq of a record (a positive integer)")
				}
				q.Set("before", strconv.FormatInt(before, 10))
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			items, err := s.client.list(cmd.Context(), s.subscriptionPath("providers", diagnostics.Namespace, "accessLogs"), q)
			if err != nil {
				return err
			}
			return g.printView(cmd, items, logsView())
		},
	}
	f := cmd.Flags()
	f.StringVar(&resource, "resource", "", "resource id: records of this resource and of those below it")
	f.StringVar(&result, "result", "", "Allowed or Denied")
	f.StringVar(&rule, "rule", "", "text the deciding rule contains (case-insensitive)")
	f.StringVar(&source, "source", "", "source IP address or CIDR")
	f.StringVar(&host, "host", "", "host name the client asked for")
	f.StringVar(&deployment, "deployment", "", "model deployment")
	f.StringVar(&since, "since", "", "records at or after this: a duration back from now (1h, 7d) or an RFC 3339 time")
	f.StringVar(&until, "until", "", "records before this: a duration back from now or an RFC 3339 time")
	f.IntVar(&top, "top", 0, fmt.Sprintf("at most this many records (1 to %d; the server's default is %d)", accesslog.MaxLimit, accesslog.DefaultLimit))
	f.Int64Var(&before, "before", 0, "only records older than the one with this seq (the next page)")
	return cmd
}

// parseWhen reads a point in time: a duration back from now (Go syntax,
// plus a "d" suffix for days) or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("'%s' is neither a duration back from now (90s, 15m, 1h, 7d) nor an RFC 3339 time (2026-01-02T15:04:05Z)", s)
	}
	return now.Add(-d), nil
}

func parseAgo(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || !(n >= 0 && n <= 1e5) {
			return 0, fmt.Errorf("bad days %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}
