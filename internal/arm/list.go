package arm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/perimeterhq/perimeter/internal/store"
)

// maxPageSize caps $top.
const maxPageSize = 1000

// page is one page of a list response. NextLink is omitted on the last
// page, never an empty string.
type page struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"nextLink,omitempty"`
}

func (s *Server) list(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	if _, err := s.loadScope(ctx, t.elems, false); err != nil {
		return err
	}
	var custom func(context.Context, *Request) ([]any, error)
	if r, ok := t.kind.kind.(Reader); ok {
		custom = r.List // filtered only if Spec.HonoursMayRead (authorize)
	} else if l, ok := t.kind.kind.(Lister); ok {
		custom = l.ListAll
	}
	if custom != nil {
		if t.filter {
			req.MayRead = func(id, typ string) bool { return s.mayRead(req, id, typ) }
		}
		items, err := custom(ctx, req)
		if err != nil {
			return err
		}
		out := page{Value: make([]json.RawMessage, 0, len(items))}
		for _, it := range items {
			b, err := json.Marshal(it)
			if err != nil {
				return err
			}
			out.Value = append(out.Value, b)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	size, after, err := s.paging(req.HTTP)
	if err != nil {
		return err
	}
	spec := req.Spec
	scopeID := FormatID(t.elems)
	opts := store.ListOptions{After: after, Limit: size + 1}
	var keep func(store.Document) bool
	if spec.Type == TypeResources {
		// Tracked resources of every type below the scope. Filtering
		// happens after the query, so ask for more until the page fills.
		opts.Under = scopeID
		keep = func(d store.Document) bool {
			k := s.kind(d.Type)
			return k != nil && k.spec.Tracked
		}
	} else {
		opts.Type = spec.Type
		if len(t.elems) > 0 && strings.EqualFold(t.elems[len(t.elems)-1].Type, spec.ParentType) {
			opts.Parent = scopeID
		} else {
			opts.Under = scopeID
		}
	}
	if t.filter {
		// Only what the caller may read (RBAC below the scope).
		kept := keep
		keep = func(d store.Document) bool {
			if kept != nil && !kept(d) {
				return false
			}
			return s.mayRead(req, d.ID, d.Type)
		}
	}
	var docs []store.Document
	for {
		batch, err := s.cfg.Store.List(ctx, opts)
		if err != nil {
			return fmt.Errorf("list %s under %s: %w", spec.Type, scopeID, err)
		}
		for _, d := range batch {
			if keep == nil || keep(d) {
				docs = append(docs, d)
			}
		}
		if len(docs) > size || len(batch) < opts.Limit {
			break
		}
		opts.After = batch[len(batch)-1].ID
	}
	out := page{Value: make([]json.RawMessage, 0, min(len(docs), size))}
	for i, d := range docs {
		if i == size {
			out.NextLink = nextLink(req.HTTP, docs[i-1].ID)
			break
		}
		body := d.Body
		if k := s.kind(d.Type); k != nil && k.spec.BodyETag {
			res, err := decodeResource(d)
			if err != nil {
				return err
			}
			if body, err = json.Marshal(res); err != nil {
				return err
			}
		}
		out.Value = append(out.Value, body)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// paging reads $top (page size) and $skipToken (where the previous page
// ended).
func (s *Server) paging(r *http.Request) (size int, after string, err error) {
	q := r.URL.Query()
	size = s.cfg.PageSize
	if top := q.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, "", BadRequest("InvalidQueryParameterValue", "The value '%s' of $top is invalid. Use an integer from 1 to %d.", top, maxPageSize)
		}
		size = n
	}
	if tok := q.Get("$skipToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 || b[0] != '/' {
			return 0, "", BadRequest("InvalidQueryParameterValue", "The $skipToken is invalid. Use the nextLink of the previous page unchanged.")
		}
		after = string(b)
	}
	return size, after, nil
}

// nextLink is the URL of the page after the one ending with lastID: the
// request URL with a new $skipToken.
func nextLink(r *http.Request, lastID string) string {
	q := r.URL.Query()
	q.Set("$skipToken", base64.RawURLEncoding.EncodeToString([]byte(lastID)))
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return BaseURL(r) + u.RequestURI()
}
