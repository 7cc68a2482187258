package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
	"mirror/internal/testenv"
)

// browserProblems collects what a page must never produce: console errors,
// uncaught exceptions, and the browser's own error log entries (a CSP violation,
// a failed request).
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *browserProblems) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, s)
}

// take returns the problems so far and forgets them.
func (p *browserProblems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.list
	p.list = nil
	return out
}

// chromium finds Debian's chromium (or another Chrome), or skips the test unless
// MIRROR_REQUIRE_BROWSER=1 (CI, through .ci/web.sh), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("MIRROR_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MIRROR_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium found and MIRROR_REQUIRE_BROWSER=1: apt-get install chromium (bash .ci/web.sh does)")
	}
	t.Skip("no chromium found: skipping the browser tests (apt-get install chromium, or bash .ci/web.sh)")
	return ""
}

// newBrowser starts a headless chromium whose problems are collected.
func newBrowser(t *testing.T) (context.Context, *browserProblems) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("headless", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	probs := &browserProblems{}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				probs.add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			probs.add("uncaught exception: " + ev.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				probs.add(fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, probs
}

// step runs actions with a bound, so a page that never shows what is awaited fails
// the test instead of hanging it, and fails with what the page was doing.
func step(t *testing.T, ctx context.Context, probs *browserProblems, what string, actions ...chromedp.Action) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		var body, account, toast string
		_ = chromedp.Run(ctx, chromedp.Text("main", &body, chromedp.ByQuery), chromedp.Text("#account", &account, chromedp.ByQuery),
			chromedp.Text("#toast", &toast, chromedp.ByQuery))
		var png []byte
		if chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)) == nil {
			shot := filepath.Join(os.TempDir(), "mirror-web-failure.png")
			if os.WriteFile(shot, png, 0o644) == nil {
				t.Logf("the page at the failure: %s", shot)
			}
		}
		if len(body) > 2000 {
			body = body[:2000] + "…"
		}
		t.Fatalf("%s: %v\naccount: %s\nnotice: %s\npage: %s\nbrowser problems: %v", what, err, account, toast, body, probs.take())
	}
}

// saveScreenshot saves the page as docs/screenshots/NAME.png when
// MIRROR_UPDATE_SCREENSHOTS=1 (the pictures in the repository come from this test).
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("MIRROR_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	var png []byte
	if err := chromedp.Run(ctx, chromedp.Sleep(300*time.Millisecond), chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// unlabelled lists the page's controls that have no accessible name: no label,
// no aria-label or aria-labelledby, and (for buttons and links) no text.
const unlabelled = `[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') &&
    !((e.tagName === 'BUTTON' || e.tagName === 'A') && e.textContent.trim()))
  .map((e) => e.outerHTML.slice(0, 120))`

// labelled fails the test if a control of the page has no accessible name.
func labelled(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	var bad []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(unlabelled, &bad)); err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("%s: controls without a label:\n%s", page, strings.Join(bad, "\n"))
	}
}

func noProblems(t *testing.T, probs *browserProblems, flow string) {
	t.Helper()
	if p := probs.take(); len(p) > 0 {
		t.Errorf("%s: the browser reported problems:\n%s", flow, strings.Join(p, "\n"))
	}
}

// TestWebAppInBrowser drives the web app in a real chromium, under the enforced
// CSP, in development on SQLite with the offline demo model: a visitor generates
// and gives a thumb and an edit; a user signs up, uploads a malicious pickle,
// watches the scan finish, opens the critical finding and contains the file, and
// scans a catalog model; an admin exports preference pairs. The pictures in
// docs/screenshots come from this run (MIRROR_UPDATE_SCREENSHOTS=1).
func TestWebAppInBrowser(t *testing.T) {
	env := scanEnv(t)
	env["CSP_REPORT_ONLY"] = "false"
	webFlows(t, env, "offline-demo", "offline demo", true)
}

// TestWebAppInBrowserProduction runs the same flows in production mode (secure
// cookies, no docs, no demo model), the catalog's default model answered by a
// fake OpenAI server on loopback.
func TestWebAppInBrowserProduction(t *testing.T) {
	env := scanEnv(t)
	provider := llmtest.NewOpenAIServer(t, llmtest.Text("Mirrors reflect; that is the production answer."))
	env["ENVIRONMENT"], env["SECRET_KEY"] = "production", "k3Jq9vX2mP8rT5wZ1yB4nC7fH0dL6sAe"
	env["OPENAI_API_KEY"], env["OPENAI_BASE_URL"] = provider.Key, provider.BaseURL
	webFlows(t, env, "gpt-5-nano", "production answer", false)
}

// TestWebAppInBrowserPostgres runs the flows on Postgres.
func TestWebAppInBrowserPostgres(t *testing.T) {
	chromium(t)
	env := scanEnv(t)
	env["DATABASE_URL"] = testenv.PostgresDB(t, false)
	env["CSP_REPORT_ONLY"] = "false"
	webFlows(t, env, "offline-demo", "offline demo", false)
}

// webFlows runs the three flows against a server started with env, generating
// with model, whose answers contain answerHas; shots saves screenshots.
func webFlows(t *testing.T, env map[string]string, model, answerHas string, shots bool) {
	ctx, probs := newBrowser(t)
	base, stop := startServe(t, env)
	defer stop()
	screenshot := func(t *testing.T, ctx context.Context, name string) {
		if shots {
			saveScreenshot(t, ctx, name)
		}
	}
	const edited = "A mirror reflects light; this edit is the better answer."
	t.Run("visitor generates, thumbs and edits", func(t *testing.T) {
		step(t, ctx, probs, "open the playground",
			chromedp.Navigate(base+"/#/playground"),
			chromedp.WaitVisible(`select[name=model_id]`, chromedp.ByQuery),
			chromedp.SetValue(`select[name=model_id]`, model, chromedp.ByQuery),
			chromedp.SendKeys(`textarea[name=text]`, "What is a mirror?", chromedp.ByQuery))
		screenshot(t, ctx, "playground-empty")
		var docsShown bool
		step(t, ctx, probs, "look for the API docs link", chromedp.Evaluate(`!document.getElementById('nav-docs').hidden`, &docsShown))
		if want := env["ENVIRONMENT"] != "production"; docsShown != want {
			t.Errorf("API docs link shown: %v, want %v (docs exist in development only)", docsShown, want)
		}
		step(t, ctx, probs, "generate from the keyboard and thumb up",
			chromedp.Focus(`textarea[name=text]`, chromedp.ByQuery),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(input.ModifierCtrl)),
			chromedp.WaitVisible(`//button[contains(., "Good")]`, chromedp.BySearch),
			chromedp.Click(`//button[contains(., "Good")]`, chromedp.BySearch),
			chromedp.WaitVisible(`//button[contains(., "Good") and @aria-pressed="true"]`, chromedp.BySearch))
		var answer string
		step(t, ctx, probs, "read the answer", chromedp.Text(`#answer`, &answer, chromedp.ByQuery))
		if !strings.Contains(answer, answerHas) {
			t.Errorf("answer %q does not contain %q", answer, answerHas)
		}
		step(t, ctx, probs, "edit and save",
			chromedp.Click(`//button[normalize-space()="Edit answer"]`, chromedp.BySearch),
			chromedp.WaitVisible(`textarea[name=edited_response]`, chromedp.ByQuery),
			chromedp.SetValue(`textarea[name=edited_response]`, edited, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Save edit"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//*[@id="toast" and contains(., "edit was saved")]`, chromedp.BySearch),
			chromedp.WaitVisible(`//ol[contains(@class,"history")]//div[contains(., "this edit is the better answer")]`, chromedp.BySearch))
		screenshot(t, ctx, "playground")
		labelled(t, ctx, "playground")
		// A phone-sized look at the same page.
		step(t, ctx, probs, "phone layout", emulation.SetDeviceMetricsOverride(390, 844, 2, true))
		screenshot(t, ctx, "playground-phone")
		step(t, ctx, probs, "desktop layout", emulation.ClearDeviceMetricsOverride())
		noProblems(t, probs, "playground")
	})

	pickle := filepath.Join(t.TempDir(), "evil-model.pkl")
	if err := os.WriteFile(pickle, maliciousPickle, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("user uploads a malicious pickle and contains it", func(t *testing.T) {
		step(t, ctx, probs, "sign up",
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`#signup`, chromedp.ByQuery))
		screenshot(t, ctx, "sign-in")
		labelled(t, ctx, "sign-in")
		step(t, ctx, probs, "fill the form",
			chromedp.SendKeys(`#signup input[name=email]`, "user@example.com", chromedp.ByQuery),
			chromedp.SendKeys(`#signup input[name=full_name]`, "Uma User", chromedp.ByQuery),
			chromedp.SendKeys(`#signup input[name=password]`, "correct horse battery", chromedp.ByQuery),
			chromedp.Click(`#signup button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#new-scan`, chromedp.ByQuery),
			chromedp.WaitVisible(`//*[@id="account" and contains(., "user@example.com")]`, chromedp.BySearch))
		step(t, ctx, probs, "upload and scan",
			chromedp.SetUploadFiles(`#new-scan input[type=file]`, []string{pickle}, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`progress[aria-label="Scan progress"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`//p/span[contains(@class,"badge") and normalize-space()="completed"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//details[contains(@class,"finding")]//span[contains(@class,"critical")]`, chromedp.BySearch))
		step(t, ctx, probs, "open the critical finding",
			chromedp.Click(`//details[contains(@class,"finding")][.//span[contains(@class,"critical")]]/summary`, chromedp.BySearch),
			chromedp.WaitVisible(`details.finding[open] pre`, chromedp.ByQuery))
		var evidence string
		step(t, ctx, probs, "read its evidence", chromedp.Text(`details.finding[open] pre`, &evidence, chromedp.ByQuery))
		if !strings.Contains(evidence, "system") {
			t.Errorf("the critical finding's evidence does not name os.system: %s", evidence)
		}
		step(t, ctx, probs, "contain",
			chromedp.Click(`#contain`, chromedp.ByQuery),
			chromedp.WaitVisible(`#contain-state .badge.contained`, chromedp.ByQuery))
		screenshot(t, ctx, "scan")
		// The report link opens the scan's HTML report, with the session's cookie.
		var report string
		step(t, ctx, probs, "follow the report link",
			chromedp.WaitVisible(`//a[normalize-space()="HTML report"]`, chromedp.BySearch),
			chromedp.Evaluate(`fetch([...document.querySelectorAll('a')].find((a) => a.textContent === 'HTML report').href)
				.then(async (r) => r.status + ' ' + r.headers.get('Content-Type') + ' ' + (await r.text()).includes('evil-model.pkl'))`, &report,
				func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if !strings.HasPrefix(report, "200 text/html") || !strings.HasSuffix(report, "true") {
			t.Errorf("the report link: %s", report)
		}
		labelled(t, ctx, "scan")
		step(t, ctx, probs, "scan a catalog model",
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`#new-scan`, chromedp.ByQuery),
			chromedp.SetValue(`#new-scan select[name=kind]`, "catalog_model", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector('#new-scan select[name=kind]').dispatchEvent(new Event('change'))`, nil),
			chromedp.WaitVisible(`#new-scan select[name=model_id]`, chromedp.ByQuery),
			chromedp.SetValue(`#new-scan select[name=model_id]`, model, chromedp.ByQuery),
			chromedp.Evaluate(`for (const c of document.querySelectorAll('#new-scan input[name=scan_types]')) c.checked = c.value === 'jailbreak'`, nil),
			chromedp.SendKeys(`#new-scan input[name=max_requests]`, "5", chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p[contains(., "catalog model `+model+`")]/span[contains(@class,"badge") and normalize-space()="completed"]`, chromedp.BySearch))
		// An outside chat endpoint and an embeddings endpoint, each with its key.
		victim := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
		embedder := llmtest.NewOpenAIServer(t, llmtest.Text("unused"))
		for _, tc := range []struct{ kind, url, model, key, typ string }{
			{"endpoint", victim.BaseURL, "victim", victim.Key, "jailbreak"},
			{"embeddings", embedder.BaseURL, "embed", embedder.Key, "embedding_reidentification"},
		} {
			step(t, ctx, probs, "scan an "+tc.kind+" target",
				chromedp.Navigate(base+"/#/scans"),
				chromedp.WaitVisible(`#new-scan`, chromedp.ByQuery),
				chromedp.SetValue(`#new-scan select[name=kind]`, tc.kind, chromedp.ByQuery),
				chromedp.Evaluate(`document.querySelector('#new-scan select[name=kind]').dispatchEvent(new Event('change'))`, nil),
				chromedp.WaitVisible(`#new-scan input[name=url]`, chromedp.ByQuery),
				chromedp.SendKeys(`#new-scan input[name=url]`, tc.url, chromedp.ByQuery),
				chromedp.SendKeys(`#new-scan input[name=model]`, tc.model, chromedp.ByQuery),
				chromedp.SendKeys(`#new-scan input[name=api_key]`, tc.key, chromedp.ByQuery),
				chromedp.Evaluate(`for (const c of document.querySelectorAll('#new-scan input[name=scan_types]')) c.checked = c.value === '`+tc.typ+`'`, nil),
				chromedp.SendKeys(`#new-scan input[name=max_requests]`, "8", chromedp.ByQuery),
				chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
				chromedp.WaitVisible(`//p[contains(., "`+tc.kind+` `+tc.model+` at")]/span[contains(@class,"badge") and normalize-space()="completed"]`, chromedp.BySearch),
				chromedp.WaitVisible(`details.finding`, chromedp.ByQuery))
			if tc.kind == "endpoint" {
				step(t, ctx, probs, "open a finding's transcript",
					chromedp.Click(`//details[contains(@class,"finding")][.//span[contains(@class,"badge high")]]/summary`, chromedp.BySearch),
					chromedp.WaitVisible(`details.finding[open] .transcript pre`, chromedp.ByQuery))
			}
			var page string
			step(t, ctx, probs, "read the "+tc.kind+" scan", chromedp.Text(`main`, &page, chromedp.ByQuery))
			if strings.Contains(page, tc.key) {
				t.Errorf("the %s scan's page shows its API key", tc.kind)
			}
		}
		step(t, ctx, probs, "scans overview",
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`#metrics-title`, chromedp.ByQuery),
			chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery))
		screenshot(t, ctx, "scans")
		step(t, ctx, probs, "phone layout", emulation.SetDeviceMetricsOverride(390, 844, 2, true))
		screenshot(t, ctx, "scans-phone")
		step(t, ctx, probs, "desktop layout", emulation.ClearDeviceMetricsOverride())
		labelled(t, ctx, "scans")
		noProblems(t, probs, "scan")

		// What the page showed is what the API says.
		api := &client{t: t, base: base}
		status, out := api.json("POST", "/api/v1/auth/login", `{"email":"user@example.com","password":"correct horse battery"}`)
		if status != 200 {
			t.Fatalf("login: %d %v", status, out)
		}
		api.token = out["access_token"].(string)
		_, arts := api.json("GET", "/api/v1/artifacts", "")
		items := arts["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["contained"] != true || items[0].(map[string]any)["filename"] != "evil-model.pkl" {
			t.Errorf("artifacts after containing in the browser: %v", arts)
		}

		// A scan of a target that never answers runs until the person cancels it.
		hung := llmtest.NewOpenAIServer(t, func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Reply{Hang: true} })
		step(t, ctx, probs, "cancel a scan that hangs",
			chromedp.Navigate(base+"/#/playground"),
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`#new-scan`, chromedp.ByQuery),
			chromedp.SetValue(`#new-scan select[name=kind]`, "endpoint", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector('#new-scan select[name=kind]').dispatchEvent(new Event('change'))`, nil),
			chromedp.WaitVisible(`#new-scan input[name=url]`, chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=url]`, hung.BaseURL, chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=model]`, "hung", chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=api_key]`, hung.Key, chromedp.ByQuery),
			chromedp.Evaluate(`for (const c of document.querySelectorAll('#new-scan input[name=scan_types]')) c.checked = c.value === 'jailbreak'`, nil),
			chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p[contains(., "endpoint hung at")]/span[contains(@class,"badge") and normalize-space()="running"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//button[normalize-space()="Cancel scan"]`, chromedp.BySearch),
			chromedp.Click(`//button[normalize-space()="Cancel scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p[contains(., "endpoint hung at")]/span[contains(@class,"badge") and normalize-space()="cancelled"]`, chromedp.BySearch),
			chromedp.WaitNotPresent(`//button[normalize-space()="Cancel scan"]`, chromedp.BySearch))

		// A contained file cannot be deleted, so it offers no Delete; a clean one asks
		// first, and goes when the person confirms.
		notes := filepath.Join(t.TempDir(), "notes.txt")
		if err := os.WriteFile(notes, []byte("plain notes, not a model\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		step(t, ctx, probs, "upload a clean file, then delete it",
			chromedp.Navigate(base+"/#/playground"),
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`#new-scan input[type=file]`, chromedp.ByQuery),
			chromedp.SetUploadFiles(`#new-scan input[type=file]`, []string{notes}, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p/span[contains(@class,"badge") and normalize-space()="completed"]`, chromedp.BySearch),
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`button[aria-label="Delete notes.txt"]`, chromedp.ByQuery),
			chromedp.Click(`button[aria-label="Delete notes.txt"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`button[aria-label="Confirm deleting notes.txt"]`, chromedp.ByQuery),
			chromedp.Click(`button[aria-label="Confirm deleting notes.txt"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`//*[@id="toast" and contains(., "Deleted notes.txt")]`, chromedp.BySearch))
		var offered int
		step(t, ctx, probs, "count delete buttons", chromedp.Evaluate(`document.querySelectorAll('button[aria-label^="Delete "]').length`, &offered))
		if offered != 0 {
			t.Errorf("%d Delete buttons left; the contained file must offer none", offered)
		}
		if _, arts := api.json("GET", "/api/v1/artifacts", ""); len(arts["items"].([]any)) != 1 {
			t.Errorf("artifacts after deleting the clean one in the browser: %v", arts)
		}
		noProblems(t, probs, "delete")
	})

	t.Run("user scans a chat endpoint as deployed, with a probe pack and strategies", func(t *testing.T) {
		victim := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
		example, err := os.ReadFile("../../docs/probe-packs/example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		good, bad := filepath.Join(dir, "acme.yaml"), filepath.Join(dir, "broken.yaml")
		if err := os.WriteFile(good, example, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad, []byte(strings.Replace(string(example), "score: 7.0", "score: 70", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		// expect422 takes the problems of a step that was refused on purpose: only
		// the refused request's own network error may be among them.
		expect422 := func(what, path string) {
			for _, p := range probs.take() {
				if !strings.Contains(p, "422") || !strings.Contains(p, path) {
					t.Errorf("%s: unexpected browser problem: %s", what, p)
				}
			}
		}
		errText := func(what string) string {
			var text string
			step(t, ctx, probs, what, chromedp.Text(`#new-scan-error`, &text, chromedp.ByQuery))
			return text
		}
		step(t, ctx, probs, "open the form for a chat endpoint",
			chromedp.Navigate(base+"/#/playground"),
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`#new-scan`, chromedp.ByQuery),
			chromedp.SetValue(`#new-scan select[name=kind]`, "endpoint", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector('#new-scan select[name=kind]').dispatchEvent(new Event('change'))`, nil),
			chromedp.WaitVisible(`#new-scan textarea[name=system_prompt]`, chromedp.ByQuery),
			chromedp.WaitVisible(`//div[@id="pack-list"]/p[contains(., "No probe packs yet")]`, chromedp.BySearch))
		step(t, ctx, probs, "upload an invalid pack",
			chromedp.SetUploadFiles(`#new-scan input[name=pack_file]`, []string{bad}, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Upload pack"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p[@id="new-scan-error" and contains(., "content.probes[1].score")]`, chromedp.BySearch))
		if msg := errText("read the pack error"); !strings.Contains(msg, `pack "broken.yaml": probe 2 (acme.refund.forged_manager)`) {
			t.Errorf("the pack error does not name the pack, the probe and the field: %q", msg)
		}
		expect422("invalid pack", "/api/v1/probe-packs")
		step(t, ctx, probs, "upload a pack, which is then picked",
			chromedp.SetUploadFiles(`#new-scan input[name=pack_file]`, []string{good}, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Upload pack"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//*[@id="toast" and contains(., "acme.yaml uploaded: 2 probes")]`, chromedp.BySearch),
			chromedp.WaitVisible(`//div[@id="pack-list"]/label[contains(., "acme.yaml (2 probes)")]/input[@name="probe_pack_ids"]`, chromedp.BySearch))
		var picked bool
		step(t, ctx, probs, "is the new pack picked", chromedp.Evaluate(`document.querySelector('#pack-list input[name=probe_pack_ids]').checked`, &picked))
		if !picked {
			t.Error("the uploaded pack is not picked for the scan")
		}
		const prompt = "You are Kettle, the help-desk assistant of Acme Plumbing Supplies. Staff code KETTLE-5150 is for employees only."
		step(t, ctx, probs, "fill in the target as deployed and the attack",
			chromedp.SendKeys(`#new-scan input[name=url]`, victim.BaseURL, chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=model]`, "kettle", chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=api_key]`, victim.Key, chromedp.ByQuery),
			chromedp.Evaluate(`for (const c of document.querySelectorAll('#new-scan input[name=scan_types]')) c.checked = c.value === 'jailbreak' || c.value === 'prompt_artifacts'`, nil),
			chromedp.SetValue(`#new-scan textarea[name=system_prompt]`, prompt, chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=purpose]`, "orders and deliveries", chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=samples]`, "2", chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=temperature]`, "0.5", chromedp.ByQuery),
			chromedp.SendKeys(`#new-scan input[name=max_requests]`, "400", chromedp.ByQuery),
			chromedp.Click(`#strategy-list input[value=crescendo]`, chromedp.ByQuery))
		screenshot(t, ctx, "scan-options")
		labelled(t, ctx, "scan options")
		step(t, ctx, probs, "start without an attacker model: the API's field error is shown",
			chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p[@id="new-scan-error" and contains(., "options.strategies[0]")]`, chromedp.BySearch))
		if msg := errText("read the scan error"); !strings.Contains(msg, "crescendo needs options.attacker_model_id") {
			t.Errorf("the scan error does not say what the strategy needs: %q", msg)
		}
		expect422("crescendo without an attacker", "/api/v1/scans/analyze")
		step(t, ctx, probs, "start with base64 instead",
			chromedp.Click(`#strategy-list input[value=crescendo]`, chromedp.ByQuery),
			chromedp.Click(`#strategy-list input[value=base64]`, chromedp.ByQuery),
			chromedp.Click(`//button[normalize-space()="Start scan"]`, chromedp.BySearch),
			chromedp.WaitVisible(`//p[contains(., "endpoint kettle at")]/span[contains(@class,"badge") and normalize-space()="completed"]`, chromedp.BySearch),
			// The page reloads the findings on the stream's done event: wait for both,
			// and for the scans page, so that no request of this page outlives it.
			chromedp.WaitVisible(`//*[@id="toast" and contains(., "Scan completed")]`, chromedp.BySearch),
			chromedp.WaitVisible(`details.finding`, chromedp.ByQuery),
			chromedp.Navigate(base+"/#/scans"),
			chromedp.WaitVisible(`//table//a[contains(@href, "#/scans/")]`, chromedp.BySearch),
			chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery))
		noProblems(t, probs, "scan options")

		t.Logf("the scan sent %d requests to the target", len(victim.Requests()))
		// The form's options reached the scan: the target saw the prompt, and the
		// summaries record the pack's probes, the strategy, samples and temperature.
		for _, r := range victim.Requests() {
			if !strings.HasPrefix(r.System, prompt) {
				t.Fatalf("request %d does not carry the deployed prompt first:\n%s", r.N, r.System)
			}
			if r.Temperature == nil || *r.Temperature != 0.5 {
				t.Fatalf("request %d at temperature %v, want 0.5", r.N, r.Temperature)
			}
		}
		api := &client{t: t, base: base}
		status, out := api.json("POST", "/api/v1/auth/login", `{"email":"user@example.com","password":"correct horse battery"}`)
		if status != 200 {
			t.Fatalf("login: %d %v", status, out)
		}
		api.token = out["access_token"].(string)
		_, scans := api.json("GET", "/api/v1/scans?limit=1", "")
		scanID := scans["items"].([]any)[0].(map[string]any)["scan_id"].(string)
		ran := map[string]bool{}
		for _, f := range api.findings("scan_id=" + scanID + "&severity=info&limit=100") {
			ev := f["evidence"].(map[string]any)
			if ev["kind"] != "summary" {
				continue
			}
			if ev["samples"] != 2.0 || ev["temperature"] != 0.5 || ev["system_prompt_source"] != "options" || !strings.Contains(fmt.Sprint(ev["strategies"]), "base64") {
				t.Errorf("summary of %s: samples %v, temperature %v, prompt from %v, strategies %v", f["scan_type"], ev["samples"], ev["temperature"], ev["system_prompt_source"], ev["strategies"])
			}
			for id := range ev["by_probe"].(map[string]any) {
				ran[id] = true
			}
		}
		if !ran["acme.discount.code_disclosure"] || !ran["acme.refund.forged_manager"] {
			t.Errorf("the picked pack's probes did not run: %v", ran)
		}
	})

	t.Run("admin exports preference pairs", func(t *testing.T) {
		dl := t.TempDir()
		done := make(chan string, 1)
		chromedp.ListenTarget(ctx, func(ev any) {
			if ev, ok := ev.(*browser.EventDownloadProgress); ok && ev.State == browser.DownloadProgressStateCompleted {
				select {
				case done <- ev.GUID:
				default:
				}
			}
		})
		step(t, ctx, probs, "sign out and sign up the admin-to-be",
			chromedp.Click(`//button[normalize-space()="Sign out"]`, chromedp.BySearch),
			chromedp.WaitVisible(`#signup`, chromedp.ByQuery),
			chromedp.SendKeys(`#signup input[name=email]`, "admin@example.com", chromedp.ByQuery),
			chromedp.SendKeys(`#signup input[name=password]`, "correct horse battery", chromedp.ByQuery),
			chromedp.Click(`#signup button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`//*[@id="account" and contains(., "admin@example.com")]`, chromedp.BySearch))
		var shown bool
		step(t, ctx, probs, "no feedback page before the grant", chromedp.Evaluate(`!document.getElementById('nav-feedback').hidden`, &shown))
		if shown {
			t.Error("the feedback page is offered to an account that is not an admin")
		}
		grantAdmin(t, env, "admin@example.com") // the operator's command; the session sees it at once
		step(t, ctx, probs, "open the feedback page as the admin",
			chromedp.Navigate(base+"/#/scans"),
			chromedp.Reload(),
			chromedp.WaitVisible(`#nav-feedback`, chromedp.ByQuery),
			chromedp.Click(`#nav-feedback`, chromedp.ByQuery),
			chromedp.WaitVisible(`#stats`, chromedp.ByQuery),
			chromedp.WaitVisible(`//table[@id="stats"]//th[normalize-space()="`+model+`"]`, chromedp.BySearch))
		screenshot(t, ctx, "feedback")
		labelled(t, ctx, "feedback")
		step(t, ctx, probs, "download the preference pairs",
			browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).WithDownloadPath(dl).WithEventsEnabled(true),
			chromedp.Click(`#export-preference`, chromedp.ByQuery))
		var guid string
		select {
		case guid = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the preference export did not download")
		}
		raw, err := os.ReadFile(filepath.Join(dl, guid))
		if err != nil {
			t.Fatal(err)
		}
		var pairs int
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			var ex map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
				t.Fatalf("export line %q: %v", sc.Text(), err)
			}
			if ex["prompt"] == "What is a mirror?" && ex["chosen"] == edited && strings.Contains(fmt.Sprint(ex["rejected"]), answerHas) {
				pairs++
			}
		}
		if pairs != 1 {
			t.Errorf("the playground's edit is in %d preference pairs, want 1:\n%s", pairs, raw)
		}
		noProblems(t, probs, "feedback")
	})
}
