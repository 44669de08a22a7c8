package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// longRunning reports whether a response starts a long-running operation.
func longRunning(r *response) bool {
	return r.status == http.StatusAccepted ||
		((r.status == http.StatusOK || r.status == http.StatusCreated) && r.header.Get("Azure-AsyncOperation") != "")
}

// wait follows a long-running operation to its end, as ARM clients do:
// with Azure-AsyncOperation, poll the operation until it is terminal, then
// read the result (the resource for PUT and PATCH, Location for POST);
// otherwise poll Location until it stops answering 202.
func (c *client) wait(ctx context.Context, r *request, first *response) (*response, error) {
	defer c.progressDone()
	interval := retryAfter(first.header, defaultPoll)
	location := first.header.Get("Location")
	if opURL := first.header.Get("Azure-AsyncOperation"); opURL != "" {
		for {
			if err := c.pause(ctx, interval); err != nil {
				return nil, err
			}
			resp, err := c.send(ctx, &request{method: http.MethodGet, url: opURL})
			if err != nil {
				return nil, err
			}
			if ae := errorOf(resp); ae != nil {
				return nil, ae
			}
			var op struct {
				Status string `json:"status"`
				Error  *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Target  string `json:"target"`
				} `json:"error"`
			}
			if err := json.Unmarshal(resp.body, &op); err != nil {
				return nil, fmt.Errorf("the operation status at %s is not JSON: %w", opURL, err)
			}
			switch strings.ToLower(op.Status) {
			case "succeeded":
				switch {
				case r.method == http.MethodPut || r.method == http.MethodPatch:
					return c.send200(ctx, &request{method: http.MethodGet, url: r.url, query: r.query})
				case r.method == http.MethodPost && location != "":
					return c.send200(ctx, &request{method: http.MethodGet, url: location})
				}
				return &response{status: http.StatusOK, header: resp.header}, nil
			case "failed", "canceled", "cancelled":
				ae := &armError{Status: http.StatusInternalServerError, Code: "OperationFailed", Message: "The operation ended with status " + op.Status + "."}
				if op.Error != nil && op.Error.Code != "" {
					ae.Code, ae.Message, ae.Target = op.Error.Code, op.Error.Message, op.Error.Target
				}
				return nil, ae
			}
			interval = retryAfter(resp.header, interval)
		}
	}
	if location == "" {
		return first, nil
	}
	for {
		if err := c.pause(ctx, interval); err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, &request{method: http.MethodGet, url: location})
		if err != nil {
			return nil, err
		}
		if ae := errorOf(resp); ae != nil {
			return nil, ae
		}
		if resp.status != http.StatusAccepted {
			return resp, nil
		}
		if l := resp.header.Get("Location"); l != "" {
			location = l
		}
		interval = retryAfter(resp.header, interval)
	}
}

// send200 sends a request and turns an error status into an *armError.
func (c *client) send200(ctx context.Context, r *request) (*response, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	if ae := errorOf(resp); ae != nil {
		return nil, ae
	}
	return resp, nil
}

// retryAfter reads Retry-After (seconds or an HTTP date), capped at
// maxPoll; without one the previous interval stays.
func retryAfter(h http.Header, previous time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return previous
	}
	d := previous
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(0, time.Until(t))
	}
	return min(d, maxPoll)
}

// pause waits between polls, showing progress on a terminal.
func (c *client) pause(ctx context.Context, d time.Duration) error {
	if c.progress != nil {
		fmt.Fprintf(c.progress, "\r%c Running ..", `-\|/`[c.spins%4])
		c.spins++
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// progressDone clears the progress line.
func (c *client) progressDone() {
	if c.progress != nil && c.spins > 0 {
		fmt.Fprint(c.progress, "\r"+strings.Repeat(" ", 12)+"\r")
		c.spins = 0
	}
}

var namespaceInMessage = regexp.MustCompile(`namespace '([^']+)'`)

// registerMissing handles MissingSubscriptionRegistration as az does: say
// so, register the namespace the error names and wait for it.
func (c *client) registerMissing(ctx context.Context, r *request, ae *armError) error {
	u, err := c.resolve(r.url, nil)
	if err != nil {
		return err
	}
	sub, ns := subscriptionOf(u.Path), ""
	if m := namespaceInMessage.FindStringSubmatch(ae.Message); m != nil {
		ns = m[1]
	} else {
		ns = lastNamespace(u.Path)
	}
	if sub == "" || ns == "" {
		return ae
	}
	fmt.Fprintf(c.notices, "Resource provider '%s' used by this operation is not registered. We are registering for you.\n", ns)
	if _, err := c.registerProvider(ctx, sub, ns, "register", true); err != nil {
		return fmt.Errorf("register resource provider '%s': %w", ns, err)
	}
	fmt.Fprintln(c.notices, "Registration succeeded.")
	return nil
}

// registerProvider registers (action "register") or unregisters a
// namespace. With wait it polls the provider until the change is done and
// returns the final provider; otherwise the answer of the action.
func (c *client) registerProvider(ctx context.Context, sub, ns, action string, wait bool) (any, error) {
	path := "/subscriptions/" + url.PathEscape(sub) + "/providers/" + url.PathEscape(ns)
	// send200, not do: a registration must not itself trigger registration.
	resp, err := c.send200(ctx, &request{method: http.MethodPost, url: path + "/" + action, query: apiVersion(apiResources)})
	if err != nil {
		return nil, err
	}
	done := func(state string) bool {
		if action == "register" {
			return state == "Registered"
		}
		return state == "Unregistered" || state == "NotRegistered"
	}
	defer c.progressDone()
	deadline := time.Now().Add(registrationTimeout)
	for {
		v, err := decodeValue(resp.body)
		if err != nil {
			return nil, fmt.Errorf("the provider answer is not JSON: %w", err)
		}
		state, _ := lookup(v, "registrationState").(string)
		if !wait || done(state) {
			return v, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("'%s' is still %s after %s", ns, state, registrationTimeout)
		}
		if err := c.pause(ctx, defaultPoll); err != nil {
			return nil, err
		}
		if resp, err = c.send200(ctx, &request{method: http.MethodGet, url: path, query: apiVersion(apiResources)}); err != nil {
			return nil, err
		}
	}
}

// subscriptionOf returns the subscription id of an ARM path, or "".
func subscriptionOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		s, _ := url.PathUnescape(segs[1])
		return s
	}
	return ""
}

// lastNamespace returns the namespace of the last providers/{ns} section
// of an ARM path, or "".
func lastNamespace(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(segs) - 2; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") {
			return segs[i+1]
		}
	}
	return ""
}
