// Package playground serves GraphiQL from the binary: the page, its start-up
// script and the vendored React, ReactDOM and GraphiQL bundles, pinned by
// version in assets/manifest.json with the SRI hashes the page checks them
// against. Nothing the page loads comes from anywhere but the server:
// `make playground-assets` refreshes the bundles from the npm registry, the
// build never downloads.
package playground

import (
	"bytes"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"path"
)

//go:embed assets/manifest.json assets/playground.js assets/react.production.min.js assets/react-dom.production.min.js assets/graphiql.min.js assets/graphiql.min.css
var assets embed.FS

// Prefix is the path under which the page's assets are served.
const Prefix = "/playground/"

// ContentSecurityPolicy is sent with the page and its assets: everything
// from the server itself (GraphiQL's fonts are data: URLs in its
// stylesheet), nothing from elsewhere, no inline script. Inline styles are
// allowed: GraphiQL's dialogs add a <style> element, and a style can load
// nothing that img-src and font-src refuse.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Manifest records where each vendored file came from.
type Manifest struct {
	Packages []Package `json:"packages"`
	Files    []File    `json:"files"`
}

// Package is one npm tarball, with the registry's dist.integrity it was
// checked against.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Tarball   string `json:"tarball"`
	Integrity string `json:"integrity"`
}

// File is one vendored file: its name under assets/, the package and path
// it was extracted from, and its SRI hash (sha384).
type File struct {
	Name      string `json:"name"`
	Package   string `json:"package"`
	Version   string `json:"version"`
	Source    string `json:"source"`
	Integrity string `json:"integrity"`
}

// URL is where the page loads the file from: the package's version is in
// the path, so a browser may cache it for good.
func (f File) URL() string { return Prefix + f.Package + "@" + f.Version + "/" + f.Name }

// LoadManifest reads the embedded manifest.
func LoadManifest() (Manifest, error) {
	var m Manifest
	b, err := assets.ReadFile("assets/manifest.json")
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("playground manifest: %w", err)
	}
	return m, nil
}

// Asset returns an embedded file by its name under assets/.
func Asset(name string) ([]byte, error) { return assets.ReadFile("assets/" + name) }

// SRI is the sha384 subresource integrity value of b.
func SRI(b []byte) string {
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Options configure the page.
type Options struct {
	Title    string
	Endpoint string
	// DefaultHeaders fill the headers tab until the user edits it (what the
	// user typed is kept across reloads).
	DefaultHeaders string
	DefaultQuery   string
	// StoragePrefix namespaces GraphiQL's localStorage keys.
	StoragePrefix string
}

type script struct{ Src, Integrity string }

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
{{range .Styles}}<link rel="stylesheet" href="{{.Src}}" integrity="{{.Integrity}}">
{{end}}<link rel="stylesheet" href="{{.Own}}playground.css" integrity="{{.CSSIntegrity}}">
</head>
<body>
<div id="graphiql"><div class="loading">Loading…</div></div>
<script id="playground-config" type="application/json">{{.Config}}</script>
{{range .Scripts}}<script src="{{.Src}}" integrity="{{.Integrity}}"></script>
{{end}}</body>
</html>
`))

// ownCSS is the page's own style: GraphiQL fills the window.
const ownCSS = "body{margin:0}#graphiql{height:100vh}.loading{height:100%;display:flex;align-items:center;justify-content:center;font-size:4rem}\n"

// Handler serves the page at the path it is mounted on and the assets under
// Prefix; mount it for both.
func Handler(opts Options) (http.Handler, error) {
	m, err := LoadManifest()
	if err != nil {
		return nil, err
	}
	type served struct {
		body        []byte
		contentType string
		immutable   bool
	}
	files := map[string]served{}
	var styles, scripts []script
	byName := map[string]File{}
	for _, f := range m.Files {
		b, err := Asset(f.Name)
		if err != nil {
			return nil, fmt.Errorf("playground: %s is in the manifest but not embedded: %w", f.Name, err)
		}
		byName[f.Name] = f
		ct := "text/javascript; charset=utf-8"
		if path.Ext(f.Name) == ".css" {
			ct = "text/css; charset=utf-8"
			styles = append(styles, script{f.URL(), f.Integrity})
		}
		files[f.URL()] = served{b, ct, true}
	}
	// Scripts in dependency order: React, ReactDOM, GraphiQL, then ours.
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js"} {
		f, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("playground: the manifest has no %s", name)
		}
		scripts = append(scripts, script{f.URL(), f.Integrity})
	}
	own, err := Asset("playground.js")
	if err != nil {
		return nil, err
	}
	files[Prefix+"playground.js"] = served{own, "text/javascript; charset=utf-8", false}
	files[Prefix+"playground.css"] = served{[]byte(ownCSS), "text/css; charset=utf-8", false}
	scripts = append(scripts, script{Prefix + "playground.js", SRI(own)})

	var buf bytes.Buffer
	err = page.Execute(&buf, map[string]any{
		"Title": opts.Title, "Styles": styles, "Scripts": scripts, "Own": Prefix, "CSSIntegrity": SRI([]byte(ownCSS)),
		"Config": map[string]string{
			"endpoint": opts.Endpoint, "defaultHeaders": opts.DefaultHeaders,
			"defaultQuery": opts.DefaultQuery, "storagePrefix": opts.StoragePrefix,
		},
	})
	if err != nil {
		return nil, err
	}
	html := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if f, ok := files[r.URL.Path]; ok {
			h.Set("Content-Type", f.contentType)
			if f.immutable {
				h.Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				h.Set("Cache-Control", "no-cache")
			}
			_, _ = w.Write(f.body)
			return
		}
		if len(r.URL.Path) >= len(Prefix) && r.URL.Path[:len(Prefix)] == Prefix {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(html)
	}), nil
}
