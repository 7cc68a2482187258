package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
	"mirror/internal/testenv"
)

// scanCrashLease is the scan lease of the crash tests' children (SCAN_LEASE_SECONDS):
// short, so a killed worker's scan is taken over within seconds.
const scanCrashLease = "2"

// slowVictim is a vulnerable scripted model that takes delay per request, so a scan
// (run with concurrency 1: about 55 requests) lasts long enough to be killed in the
// middle; it counts the requests it answers.
type slowVictim struct {
	*llmtest.Server
	requests atomic.Int64
}

func newSlowVictim(t *testing.T, delay time.Duration) *slowVictim {
	v := &slowVictim{}
	m := probetest.New(probetest.All)
	v.Server = llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		v.requests.Add(1)
		time.Sleep(delay)
		return m.Handle(req)
	})
	return v
}

func (v *slowVictim) scanBody() string {
	return `{"target":{"kind":"endpoint","url":"` + v.BaseURL + `","model":"victim","api_key":"` + v.Key + `"},"options":{"seed":7,"concurrency":1}}`
}

// scanStatusOf is one look at a scan's status.
func (c *client) scanStatusOf(id string) map[string]any {
	c.t.Helper()
	status, out := c.json("GET", "/api/v1/scans/status/"+id, "")
	if status != 200 {
		c.t.Fatalf("status of %s: %d %v", id, status, out)
	}
	return out
}

// waitMidway polls until the scan runs with some progress made and some left.
func (c *client) waitMidway(id string) map[string]any {
	c.t.Helper()
	return c.pollScan(id, "never got going", 20*time.Millisecond, func(st map[string]any) bool {
		if st["status"] == "completed" || st["status"] == "failed" {
			c.t.Fatalf("scan %s ended before it could be killed mid-way (make the victim slower): %v", id, st)
		}
		p := st["progress"].(float64)
		return st["status"] == "running" && p >= 25 && p < 100
	})
}

// allFindings walks every page of a scan's findings.
func (c *client) allFindings(scanID string) []map[string]any {
	c.t.Helper()
	var all []map[string]any
	cursor := ""
	for range 1000 {
		status, page := c.json("GET", "/api/v1/scans/vulnerabilities?scan_id="+scanID+"&limit=200&cursor="+url.QueryEscape(cursor), "")
		if status != 200 {
			c.t.Fatalf("vulnerabilities: %d %v", status, page)
		}
		for _, it := range page["items"].([]any) {
			all = append(all, it.(map[string]any))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return all
		}
		cursor = next
	}
	c.t.Fatal("vulnerabilities: pages never end")
	return nil
}

// checkCompletedOnce checks a scan that was interrupted: completed, its
// findings_count is the number of findings listed, every id is unique, and no
// finding is recorded twice (same type, title and evidence: what a second run's
// copy of the first run's findings would look like).
func checkCompletedOnce(t *testing.T, c *client, id string) {
	t.Helper()
	st := c.wait(id)
	if st["status"] != "completed" {
		t.Fatalf("scan after the kill: %v", st)
	}
	if st["progress"].(float64) != 100 {
		t.Errorf("completed scan at progress %v", st["progress"])
	}
	fs := c.allFindings(id)
	if n := st["findings_count"].(float64); int(n) != len(fs) {
		t.Errorf("findings_count %v, but %d findings listed", n, len(fs))
	}
	if len(fs) == 0 {
		t.Error("the vulnerable target gave no findings")
	}
	ids := map[string]bool{}
	content := map[string]string{}
	for _, f := range fs {
		fid := f["id"].(string)
		if ids[fid] {
			t.Errorf("finding %s listed twice", fid)
		}
		ids[fid] = true
		if f["scan_id"] != id {
			t.Errorf("finding %s of scan %v listed for scan %s", fid, f["scan_id"], id)
		}
		ev, _ := json.Marshal(f["evidence"])
		key := fmt.Sprint(f["scan_type"], "|", f["title"], "|", string(ev))
		if other, dup := content[key]; dup {
			t.Errorf("findings %s and %s are the same finding recorded twice: %s", other, fid, key)
		}
		content[key] = fid
	}
	t.Logf("completed: %d findings, all distinct", len(fs))
}

func scanCrashEnv(t *testing.T) map[string]string {
	env := scanEnv(t)
	env["SCAN_LEASE_SECONDS"] = scanCrashLease
	env["SCAN_WORKERS"] = "1"
	return env
}

// scanCrash starts a scan, SIGKILLs the server while it runs, restarts the server on
// the same data, and checks that the scan completes exactly once.
func scanCrash(t *testing.T, env map[string]string) {
	victim := newSlowVictim(t, 30*time.Millisecond)
	c1 := startChild(t, env)
	killed := false
	defer func() {
		if !killed {
			c1.cmd.Process.Kill()
			c1.cmd.Wait()
		}
	}()
	user := signUp(t, c1.base, "crash@example.com")
	id := user.startScan(victim.scanBody())
	st := user.waitMidway(id)
	before := victim.requests.Load()
	if err := c1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c1.cmd.Wait()
	killed = true
	t.Logf("killed at progress %v (%q) after %d target requests", st["progress"], st["current_step"], before)

	c2 := startChild(t, env)
	defer func() { c2.cmd.Process.Signal(syscall.SIGTERM); c2.cmd.Wait() }()
	user.base = c2.base // the same account and token: the data dir keeps the secret
	if st := user.scanStatusOf(id); st["status"] != "running" && st["status"] != "queued" && st["status"] != "completed" {
		t.Fatalf("scan after restart: %v", st)
	}
	// Progress as clients see it across the takeover (logged, not asserted: the
	// second run starts over, so progress may go back).
	var seen []float64
	for range 2000 {
		st := user.scanStatusOf(id)
		if st["status"] != "running" {
			break
		}
		if p := st["progress"].(float64); len(seen) == 0 || seen[len(seen)-1] != p {
			seen = append(seen, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("progress after the restart: %v", seen)
	checkCompletedOnce(t, user, id)
	if after := victim.requests.Load(); after <= before {
		t.Errorf("the target got no request after the restart (%d before, %d after): the scan was not run again", before, after)
	} else {
		t.Logf("the second worker sent %d target requests", after-before)
	}
}

// TestCrashScanSQLite: a scan whose server is SIGKILLed mid-way is taken over after
// its lease by the restarted server and completes once, without duplicated findings.
func TestCrashScanSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	scanCrash(t, scanCrashEnv(t))
}

func TestCrashScanPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	env := scanCrashEnv(t)
	env["DATABASE_URL"] = testenv.PostgresDB(t, false)
	scanCrash(t, env)
}

// TestCrashScanPausedWorkerPostgres: a worker that stops answering (SIGSTOP) past its
// lease loses the scan to a second instance; when it wakes up (SIGCONT) it must not
// record its own result, so the scan still completes once.
func TestCrashScanPausedWorkerPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	db := testenv.PostgresDB(t, false)
	victim := newSlowVictim(t, 30*time.Millisecond)
	envA := scanCrashEnv(t)
	envA["DATABASE_URL"], envA["SECRET_KEY"] = db, "shared-secret-for-both-instances-0123456789"
	a := startChild(t, envA)
	defer func() { a.cmd.Process.Signal(syscall.SIGCONT); a.cmd.Process.Kill(); a.cmd.Wait() }()
	user := signUp(t, a.base, "pause@example.com")
	id := user.startScan(victim.scanBody())
	user.waitMidway(id)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	envB := scanCrashEnv(t)
	envB["DATABASE_URL"], envB["SECRET_KEY"] = db, envA["SECRET_KEY"]
	b := startChild(t, envB)
	defer func() { b.cmd.Process.Signal(syscall.SIGTERM); b.cmd.Wait() }()
	user.base = b.base
	// Wake A once B has taken the scan over, while B is still running it.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.logs.String(), "scan started") {
		if time.Now().After(deadline) {
			t.Fatalf("the second instance never took the scan over:\n%s", b.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if st := user.scanStatusOf(id); st["status"] != "running" {
		t.Logf("scan no longer running when the paused worker wakes: %v", st["status"])
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	checkCompletedOnce(t, user, id)
	time.Sleep(3 * time.Second) // let A finish whatever it was doing, then look again
	checkCompletedOnce(t, user, id)
	for line := range strings.Lines(a.logs.String()) {
		if strings.Contains(line, "scan_id="+id) {
			t.Logf("paused worker: %s", strings.TrimSpace(line))
			if strings.Contains(line, `msg="scan finished"`) {
				t.Error("the paused worker recorded its result after losing the lease")
			}
		}
	}
}
