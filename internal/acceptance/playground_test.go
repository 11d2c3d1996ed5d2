package acceptance

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/frsvc/fulfillment/internal/testdb"
)

// chromium finds a Chromium to drive: $CHROMIUM, or Debian's package.
// Without one the browser test is skipped, unless REQUIRE_CHROMIUM is set
// (CI installs it and sets it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_CHROMIUM") != "" {
		t.Fatal("REQUIRE_CHROMIUM is set but no Chromium was found (apt-get install chromium, or set CHROMIUM)")
	}
	t.Skip("no Chromium found: the playground browser test needs it (apt-get install chromium, or set CHROMIUM=/path/to/chrome)")
	return ""
}

// browserLog collects what the page did: every request it made and every
// error it reported.
type browserLog struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func (b *browserLog) add(list *[]string, s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*list = append(*list, s)
}

func (b *browserLog) snapshot() (requests, errs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...), append([]string(nil), b.errors...)
}

// local reports whether a request stays on the server (or in the page).
func local(raw, serverHost string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	}
	return u.Host == serverHost
}

// TestPlaygroundOffline: the playground at / works with no network but the
// server's: headless Chromium, every other host unresolvable and every
// request not to the server failed, loads the page, a key pasted into the
// headers tab makes the schema explorer work without a manual refresh, a
// query answers, and after a reload the headers tab still holds the key
// and the query answers again. No request may leave the server, and the
// page may report no error (a Content-Security-Policy violation included).
func TestPlaygroundOffline(t *testing.T) {
	chrome := chromium(t)
	s := start(t, testdb.URL(t, testdb.SQLite))
	base, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Start the browser, then watch it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	log := &browserLog{}
	if err := chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			log.add(&log.requests, e.Request.URL)
		case *fetch.EventRequestPaused:
			// Any request not to the server fails, so that a page that
			// still reached out could not work by accident.
			id, ok := e.RequestID, local(e.Request.URL, base.Host)
			go func() {
				if ok {
					_, _ = chromedp.Call(bctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
				} else {
					_, _ = chromedp.Call(bctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonBlockedByClient})
				}
			}()
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			log.add(&log.errors, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == "error" || e.Type == "warning" {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				log.add(&log.errors, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(parts, " ")))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	// The page reports a Content-Security-Policy violation to itself.
	const watchCSP = `document.addEventListener('securitypolicyviolation', e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));`
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchCSP}); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	const (
		execute = `.graphiql-container .graphiql-execute-button`
		headers = `.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`
		tab     = `//button[normalize-space(.)="Headers"]`
	)
	lctx, cancelLoad := context.WithTimeout(bctx, 20*time.Second)
	err = chromedp.Do(lctx, chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(execute)))
	cancelLoad()
	if err != nil {
		t.Fatalf("the playground did not load: %v (%s)", err, pageErrors(log))
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v (%s)", what, err, pageErrors(log))
		}
		return v
	}
	poll := func(what, js string, d time.Duration) error {
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d))); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	}

	// Paste the key into the headers tab.
	header := fmt.Sprintf("{\n  \"Authorization\": \"Bearer %s\"\n}", s.Key)
	if err := chromedp.Do(bctx,
		chromedp.Click(tab),
		chromedp.WaitVisible(chromedp.CSS(headers)),
	); err != nil {
		t.Fatalf("opening the headers tab: %v (%s)", err, pageErrors(log))
	}
	eval("selecting the headers", `(() => { const cm = document.querySelector('`+headers+`').CodeMirror; cm.focus(); cm.execCommand('selectAll'); return ''; })()`)
	if _, err := chromedp.Call(bctx, input.InsertText, input.InsertTextParams{Text: header}); err != nil {
		t.Fatal(err)
	}
	if pasted := eval("reading the headers", `document.querySelector('`+headers+`').CodeMirror.getValue()`); !strings.Contains(pasted, s.Key) {
		t.Fatalf("the headers tab holds %q after pasting the key", pasted)
	}

	// The schema explorer works without asking for the schema again.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`))); err != nil {
		t.Fatalf("opening the explorer: %v (%s)", err, pageErrors(log))
	}
	const explorer = `(document.querySelector('.graphiql-doc-explorer') || {innerText: ''}).innerText`
	if err := poll("the explorer", `(() => { const d = document.querySelector('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name'); return !!d && d.innerText === 'Query'; })()`, 15*time.Second); err != nil {
		t.Fatalf("the schema explorer after pasting the key: %v\nexplorer: %q (%s)", err, eval("explorer", explorer), pageErrors(log))
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`.graphiql-doc-explorer a.graphiql-doc-explorer-type-name`))); err != nil {
		t.Fatal(err)
	}
	if err := poll("Query", explorer+`.includes('viewer')`, 10*time.Second); err != nil {
		t.Fatalf("the explorer shows no viewer field: %v\nexplorer: %q", err, eval("explorer", explorer))
	}

	const response = `(() => { const r = document.querySelector('.graphiql-response .CodeMirror'); return r ? r.CodeMirror.getValue() : ''; })()`
	runQuery := func(when string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(execute))); err != nil {
			t.Fatalf("%s: running the query: %v", when, err)
		}
		if err := poll("the answer", response+`.includes('"role"')`, 10*time.Second); err != nil {
			t.Fatalf("%s: no answer: %v\nanswer: %q (%s)", when, err, eval("answer", response), pageErrors(log))
		}
		if answer := eval("answer", response); !strings.Contains(answer, `"role": "ADMIN"`) || !strings.Contains(answer, `"name":`) {
			t.Fatalf("%s: the answer is %q", when, answer)
		}
	}
	runQuery("after pasting the key")

	// A reload keeps the key in the headers tab (once GraphiQL has stored
	// it: it saves the editors' contents a moment after they change).
	stored := fmt.Sprintf(`['graphiql:headers', 'graphiql:tabState'].every(k => (localStorage.getItem('fulfillment' + k) || '').includes(%q))`, s.Key)
	if err := poll("the stored key", stored, 10*time.Second); err != nil {
		t.Fatalf("the key was never stored: %v", err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(execute)),
		chromedp.Click(tab),
		chromedp.WaitVisible(chromedp.CSS(headers)),
	); err != nil {
		t.Fatalf("reloading: %v (%s)", err, pageErrors(log))
	}
	if kept := eval("reading the headers", `document.querySelector('`+headers+`').CodeMirror.getValue()`); !strings.Contains(kept, s.Key) {
		t.Fatalf("after a reload the headers tab holds %q, not the key", kept)
	}
	// GraphiQL's dialogs work under the page's policy too.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`button[aria-label="Open settings dialog"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-dialog`)),
		chromedp.KeyEvent("\u001b"),
		chromedp.WaitNotPresent(chromedp.CSS(`.graphiql-dialog`)),
	); err != nil {
		t.Fatalf("the settings dialog: %v (%s)", err, pageErrors(log))
	}
	eval("clearing the answer", `(() => { document.querySelector('.graphiql-response .CodeMirror').CodeMirror.setValue(''); return ''; })()`)
	runQuery("after a reload")

	requests, errs := log.snapshot()
	if len(requests) == 0 {
		t.Fatal("no request was recorded")
	}
	for _, r := range requests {
		if !local(r, base.Host) {
			t.Errorf("the page requested %s, outside the server", r)
		}
	}
	seen := map[string]bool{}
	for _, e := range errs {
		// The first introspection goes out with the placeholder key, before
		// one is pasted; its 401 is expected.
		if strings.Contains(e, "401") || seen[e] {
			continue
		}
		seen[e] = true
		t.Errorf("the page reported: %s", e)
	}
	t.Logf("%d requests, all to %s; %s", len(requests), base.Host, time.Since(started).Round(time.Millisecond))
}

func pageErrors(l *browserLog) string {
	_, errs := l.snapshot()
	if len(errs) == 0 {
		return "the page reported no error"
	}
	return "the page reported: " + strings.Join(errs, "; ")
}
